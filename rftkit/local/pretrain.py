"""Deprecated path, re-exported for one more release; moved to
:mod:`rftkit.course.pretrain`, :mod:`rftkit.local.checkpoint`, :mod:`rftkit.local.batches`."""

import warnings

from rftkit.course.pretrain import *  # noqa: F403
from rftkit.course.pretrain import (  # noqa: F401
    PretrainConfig,
    build_tokenizer,
    pretrain,
    scripted_transcripts,
    train_cycle,
)
from rftkit.local.batches import *  # noqa: F403
from rftkit.local.batches import (  # noqa: F401
    batch_tensors,
    length_buckets,
)
from rftkit.local.checkpoint import *  # noqa: F403
from rftkit.local.checkpoint import (  # noqa: F401
    BASE_CHECKPOINT,
    BASE_MODEL,
    load_model,
)

warnings.warn(
    "rftkit.local.pretrain moved to rftkit.course.pretrain, rftkit.local.checkpoint,"
    " rftkit.local.batches;"
    " the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
