"""The course's own world, task, grader, exercises, reference labels and scripted agents.

Not the kit: the kit (``rftkit.task``, ``rftkit.graders``, ``rftkit.rollouts``, ``rftkit.jobs``,
``rftkit.local``, ``rftkit.toolserver``) never imports this package; the course is built on the
kit the way an ``rftkit new`` project is (``task``, ``grader``, ``world`` as the dataset,
``scripted`` as the solver), and its tool service is ``tools_service``.
"""
