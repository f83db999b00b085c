# ruff: noqa: E501  (the limits table below is one row per line)
"""A local server that speaks the fine-tuning API and trains for real with the local engine.

The hosted code path — ``files.create``, ``fine_tuning.jobs.create`` with the Agent RFT fields,
``retrieve``, ``list_events``, ``checkpoints.list``, ``pause``/``resume``/``cancel``,
``responses.create`` on the fine-tuned model — runs offline through the real ``openai`` client:
only the base URL and key differ. Run it with ``rftkit api serve`` or, in Python,
:func:`serve_api`.

Limits (what differs from the hosted service; everything else follows its shapes):

| area | served | not served (answered with the API's 400 error shape unless noted) |
|---|---|---|
| files | ``purpose="fine-tune"`` JSONL, checked at upload with the kit's RFT rules | other purposes; a file with errors (400 listing the lines) |
| jobs: method | ``reinforcement`` with ``grader``, ``tools``, ``max_episode_steps``, ``hyperparameters``, ``response_format`` (checked and echoed; the local model is not constrained by it: ``sample.output_json`` holds an answer that parses as JSON, said in a ``warn`` event) | ``supervised``, ``dpo``; top-level ``hyperparameters`` |
| jobs: model | ``rftkit-tinylm-base``; an ``ft:`` model or checkpoint of this server (trains on from it); any hosted id (``o4-mini-…``) is trained as ``rftkit-tinylm-base``, said in a ``warn`` event; on a server started with ``--warm-start MODULE:FUNCTION`` (a team's reference solver, the server's setting: never a request's, see ``rftkit.api.job_store``) every job not on an ``ft:`` model starts from a small model warm-started from it through the job's tools | a path; an unknown ``ft:`` id |
| jobs: data | ``validation_file`` required (as RFT needs); dataset errors (line limits, grader variables, tool names, train/valid leakage) are answered 400 at create | the service's asynchronous ``validating_files`` failure and moderation checks |
| jobs: hyperparameters | within the documented ranges (``rftkit.jobs.rules``), mapped to GRPO by the table in ``rftkit.local.hyperparameters``; ``reasoning_effort`` has no local counterpart | values out of range (400 naming the field) |
| jobs: concurrency | one job trains at a time (``--max-running-jobs``); the others wait ``queued`` and start in creation order | — |
| jobs: state | in memory: jobs end with the server (files and checkpoints stay in the data dir) | ``integrations`` and Azure's ``trainingType`` (accepted, ignored); ``result_files``, ``trained_tokens`` are empty; no Evals runs |
| events, checkpoints | real ones from the trainer, newest first, cursor pages | the hosted Evals runs per step |
| graders | ``validate`` and ``run`` through ``rftkit.graders`` (model graders need ``OPENAI_API_KEY`` in the server's environment) | — |
| responses, chat | ``rftkit-tinylm-base`` and every ``ft:`` model and checkpoint; one turn: a final answer or one function call; ``temperature`` 0–2, ``top_p`` 0–1 | ``stream``, ``previous_response_id``, ``tool_choice`` other than auto, structured outputs, ``n`` > 1; ``tools`` are echoed but the model knows only the tools it was trained on (the base model the course's four; a warm-started one its task's); a turn is at most 64 tokens; a conversation beyond the model's 768-token context gets an empty answer with ``status: incomplete`` (as the trainer ends such a rollout), not a 400 ``context_length_exceeded``; other fields are accepted and ignored |
| models | ``/v1/models`` lists the base model and every fine-tuned model and checkpoint | deleting models |
| auth | the server's own bearer key (``RFTKIT_API_KEY`` or generated), checked before a body is read, on every path (``rftkit.api.guards``); loopback only unless ``--allow-remote`` | organisations, projects |
| requests | JSON bodies up to 1 MB (responses and chat 2 MB) and 128 levels deep; uploads up to 512 MB (``rftkit.api.guards.BODY_LIMITS``) | larger or deeper bodies (413, 400) |
| outbound calls | tool and endpoint-grader URLs the outbound policy allows (``rftkit.outbound``): never link-local or metadata addresses; with ``--allow-remote`` no loopback or private ones unless ``--allow-url``; no redirects | refused URLs (400 ``url_not_allowed`` naming the field) |

Secrets: the header values of a job's tools and endpoint grader stay in memory only (see
``rftkit.api.job_store``); job objects and ``graders/validate`` echo them as ``**********``; URL
credentials and secret-looking query values are masked in job objects, lists and events.
"""

from rftkit.api.app import LocalAPI, create_app, serve_api

__all__ = ["LocalAPI", "create_app", "serve_api"]
