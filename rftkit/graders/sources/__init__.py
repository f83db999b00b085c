"""Python grader sources: each module is self-contained (standard library only) and defines
``grade(sample, item) -> float``; :mod:`rftkit.course.grader` embeds it with
``inspect.getsource``, so the code that is tested is the code a job submits."""
