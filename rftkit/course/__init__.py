"""The course's own world, task, grader, exercises, reference labels and scripted agents.

Not the kit: it is built on the kit the way an ``rftkit new`` project is (``task``, ``tools``,
``grader``, ``dataset``, ``world`` as its data, ``scripted`` as its solver, ``session`` serving
its tools), and its tool service is ``tools_service`` on :mod:`rftkit.toolserver`. The kit's
library modules do not import it; the commands that run the course do (``rftkit demo``,
``rftkit world``, ``rftkit tools``, ``rftkit local``, ``rftkit data build`` without ``--tasks``,
``rftkit graders course``, ``python -m rftkit.trl course-task``), as does the red team's default
reference set and the example grader deployment ``rftkit.graders.modal_app``.
"""
