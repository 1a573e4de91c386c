"""Every command starts fast: the command line imports the library, and through it the heavy
libraries (scikit-learn and numpy, the web framework, the SendGrid client, the scheduler, the
database layer, the HTTP client and the parsers), only in the commands that use them, so
`alerter --help` waits for none of them and `alerter members export` not for the web app."""

import json
import subprocess
import sys

HEAVY = (
    *("sklearn", "scipy", "numpy", "fastapi", "starlette", "uvicorn", "sendgrid", "apscheduler"),
    *("sqlalchemy", "sqlmodel", "alembic", "httpx", "feedparser", "bs4", "jinja2", "argon2"),
)


def test_importing_the_command_line_leaves_heavy_libraries_to_the_commands_using_them() -> None:
    # A process of its own: in the suite's, other tests have imported everything already.
    program = (
        "import json, sys; import alerter.cli; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )

    imported = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout

    assert json.loads(imported) == []
