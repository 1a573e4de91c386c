"""Benchmark: `alerter members import` of 100,000 rows and `alerter members export` of 100,000
members, each run as a user runs it (a whole process, timed from outside).

Three runs on one database: the file imported into an empty database with consent confirmed;
the same members imported again with `--update-existing` from a file where a fifth of them
changed their name, topics or frequency; then the export. The file is as staff's spreadsheets
are: UK names and organisations, topics from the shipped taxonomy, a few rows malformed (each
refused with its reason, the rest imported). Prints each figure beside its target (import under
30 s, export under 10 s). Run from the repository root:

    .venv/bin/python -m bench.members [--rows N] [--database-url URL]
"""

import argparse
import csv
import io
import random
import tempfile
from pathlib import Path

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.taxonomy import load_taxonomy
from bench.commands import ALERTER, empty_database, run_timed

FIRST = "Aisha Ben Chloe Dev Emma Fraser Gwen Harry Imran Jess Kofi Lena Mark Niamh Owen Priya"
LAST = "Ahmed Baker Clarke Davies Evans Foster Green Hughes Iqbal Jones Khan Lewis Morgan Patel"
TRADES = "Castings Forgings Alloys Metals Wire Tube Smelting Recycling Plating Extrusions"
PLACES = "Sheffield Rotherham Walsall Tipton Swansea Port-Talbot Middlesbrough Motherwell Leeds"
FREQUENCIES = ("weekly", "weekly", "weekly", "daily", "immediate")
MALFORMED_EVERY = 1000  # one row in a thousand is one staff would have to fix


def member_rows(rows: int, topics: list[str], rng: random.Random) -> list[list[str]]:
    firsts, lasts = FIRST.split(), LAST.split()
    trades, places = TRADES.split(), PLACES.split()
    out = []
    for n in range(rows):
        first, last = rng.choice(firsts), rng.choice(lasts)
        place = rng.choice(places)
        organisation = f"{place} {rng.choice(trades)} Ltd"
        domain = organisation.lower().replace(" ltd", "").replace(" ", "-") + ".co.uk"
        chosen = rng.sample(topics, rng.randint(1, 4))
        out.append(
            [
                f"{first}.{last}.{n}@{domain}".lower(),
                f"{first} {last}",
                organisation,
                ";".join(chosen),
                rng.choice(FREQUENCIES),
            ]
        )
    return out


def changed(rows: list[list[str]], topics: list[str], rng: random.Random) -> list[list[str]]:
    """The same members, a fifth of them with a new name, topics or frequency."""
    out = []
    for email, name, organisation, chosen, frequency in rows:
        if rng.random() < 0.2:
            what = rng.randrange(3)
            if what == 0:
                name = f"{name}-{rng.choice(LAST.split())}"
            elif what == 1:
                chosen = ";".join(rng.sample(topics, rng.randint(1, 4)))
            else:
                frequency = rng.choice([f for f in FREQUENCIES if f != frequency])
        out.append([email, name, organisation, chosen, frequency])
    return out


def write_csv(path: Path, rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["email", "name", "organisation", "topics", "frequency"])
    for n, row in enumerate(rows):
        if n % MALFORMED_EVERY == MALFORMED_EVERY - 1:
            row = [row[0].replace("@", " at "), *row[1:]]  # not an address: refused
        writer.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="a database to empty and use (default: SQLite)")
    args = parser.parse_args()
    rng = random.Random(2026)
    topics = list(load_taxonomy(DEFAULT_TOPICS_FILE).ids)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/members.db"
        empty_database(url)
        env = {"ALERTER_DATABASE_URL": url, "ALERTER_SECRET_KEY": "benchmark"}
        rows = member_rows(args.rows, topics, rng)
        first, second = Path(folder) / "members.csv", Path(folder) / "changed.csv"
        write_csv(first, rows)
        write_csv(second, changed(rows, topics, rng))
        refused = args.rows // MALFORMED_EVERY
        print(f"database {url.split('@')[-1]}; {args.rows:,} rows, {refused} of them malformed")

        added = run_timed([ALERTER, "members", "import", str(first), "--consent-confirmed"], env)
        print(f"import into an empty database    {added.figures()} (target < 30 s)")
        print(f"  {added.stdout.splitlines()[-1]}")
        updated = run_timed([ALERTER, "members", "import", str(second), "--update-existing"], env)
        print(f"import again, --update-existing  {updated.figures()} (target < 30 s)")
        print(f"  {updated.stdout.splitlines()[-1]}")
        exported = Path(folder) / "export.csv"
        export = run_timed([ALERTER, "members", "export", "--out", str(exported)], env)
        members = len(exported.read_text(encoding="utf-8-sig").splitlines()) - 1
        print(f"export                            {export.figures()} (target < 10 s)")
        print(f"  {members:,} members written")


if __name__ == "__main__":
    main()
