"""The python-grader environment OpenAI documents, and a check of a grader's imports against it.

Source: OpenAI graders guide, "Python graders" → technical constraints
(https://developers.openai.com/api/docs/guides/graders; docs/hosted-api.md §5.3), read 2026-12-01:
for ``image_tag`` ``2025-05-08`` the packages below at these versions, and five NLTK corpora.
The guide lists no other image tag. The same pins are the ``grader-env`` extra in
``pyproject.toml`` (``pip install -e '.[grader-env]'`` into a separate virtualenv: they are older
than the kit's own environment), so a grader can be tried against the service's versions.

The import check is static (``ast``): ``import x`` and ``from x import y`` at any depth of the
source, top-level module names only. Imports built at run time (``importlib.import_module(name)``,
``__import__``) are not seen. A module counts as available when it is in the standard library, is
one of the documented packages, or belongs to a package they require (resolved with
``pip install --dry-run --report`` of the pins on 2026-12-01, CPython 3.11): those are installed
whatever the image, though the guide does not promise their versions.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata

IMAGE_TAG = "2025-05-08"
SOURCE = "https://developers.openai.com/api/docs/guides/graders (Python graders), read 2026-12-01"

PACKAGES: dict[str, str] = {
    "numpy": "2.2.4",
    "scipy": "1.15.2",
    "sympy": "1.13.3",
    "pandas": "2.2.3",
    "rapidfuzz": "3.10.1",
    "scikit-learn": "1.6.1",
    "rouge-score": "0.1.2",
    "deepdiff": "8.4.2",
    "jsonschema": "4.23.0",
    "pydantic": "2.10.6",
    "pyyaml": "6.0.2",
    "nltk": "3.9.1",
    "sqlparse": "0.5.3",
    "rdkit": "2024.9.6",
    "scikit-bio": "0.6.3",
    "ast-grep-py": "0.36.2",
}
"""Distribution name → the version the guide publishes for :data:`IMAGE_TAG`."""

NLTK_CORPORA = {
    "punkt": "tokenizers/punkt",
    "stopwords": "corpora/stopwords",
    "wordnet": "corpora/wordnet",
    "omw-1.4": "corpora/omw-1.4",
    "names": "corpora/names",
}
"""The NLTK data the image has: name → the resource path ``nltk.data.find`` looks up."""

DOCUMENTED_MODULES: dict[str, str] = {
    "numpy": "numpy",
    "scipy": "scipy",
    "sympy": "sympy",
    "pandas": "pandas",
    "rapidfuzz": "rapidfuzz",
    "sklearn": "scikit-learn",
    "rouge_score": "rouge-score",
    "deepdiff": "deepdiff",
    "jsonschema": "jsonschema",
    "pydantic": "pydantic",
    "yaml": "pyyaml",
    "nltk": "nltk",
    "sqlparse": "sqlparse",
    "rdkit": "rdkit",
    "skbio": "scikit-bio",
    "ast_grep_py": "ast-grep-py",
}
"""Import name → the documented distribution that provides it."""

DEPENDENCY_MODULES = frozenset(
    {
        "pydantic_core", "annotated_types", "typing_extensions",  # pydantic
        "mpmath",  # sympy
        "orderly_set",  # deepdiff
        "attr", "attrs", "referencing", "jsonschema_specifications", "rpds",  # jsonschema
        "dateutil", "pytz", "tzdata", "six",  # pandas
        "joblib", "threadpoolctl",  # scikit-learn
        "absl",  # rouge-score
        "click", "regex", "tqdm",  # nltk
        "PIL",  # rdkit
        "biom", "decorator", "h5py", "natsort", "patsy", "statsmodels", "formulaic",
        "interface_meta", "narwhals", "wrapt", "packaging", "cloudpickle",
        "requests", "urllib3", "idna", "charset_normalizer", "certifi",  # scikit-bio
    }
)  # fmt: skip
"""Import names of packages the documented ones require (installed with them)."""


def imported_modules(source: str) -> set[str]:
    """Top-level names of the modules ``source`` imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def is_available(module: str) -> bool:
    """Whether ``module`` can be imported in the service's python-grader image."""
    return (
        module in sys.stdlib_module_names
        or module in DOCUMENTED_MODULES
        or module in DEPENDENCY_MODULES
    )


def unavailable_imports(source: str) -> list[str]:
    """Modules ``source`` imports that the service's image does not have, sorted."""
    return sorted(m for m in imported_modules(source) if not is_available(m))


def version_differences() -> list[tuple[str, str, str | None]]:
    """``(distribution, published, installed here)`` for each documented package that differs.

    ``installed`` is ``None`` when the package is missing from this interpreter: a grader that
    imports it fails here although it would run on the service.
    """
    differences = []
    for name, published in PACKAGES.items():
        try:
            installed: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != published:
            differences.append((name, published, installed))
    return differences


def missing_nltk_corpora() -> list[str]:
    """NLTK corpora the image has and this interpreter lacks: a grader using them fails here.

    Install with ``python -m nltk.downloader NAME`` (network), or WordNet offline with
    ``python -m rftkit.graders.wordnet``.
    """
    import nltk

    missing = []
    for name, resource in NLTK_CORPORA.items():
        zipped = f"{resource}.zip/{resource.rsplit('/', 1)[1]}/"  # as the downloader leaves it
        if not any(_found(nltk, path) for path in (resource, zipped)):
            missing.append(name)
    return missing


def _found(nltk, resource: str) -> bool:
    try:
        nltk.data.find(resource)
    except LookupError:
        return False
    return True
