"""Headlines and standfirsts as a UK metals trade association's sources write them.

Written for the benchmarks: they share the words real news shares ("UK", "steel", "tariff",
"government"), so that matching a new headline against stored ones meets the long lists of
common words it meets in production, and a tenth of them are re-posts of another feed's story
under a reworded headline, as trade press re-posts GOV.UK.
"""

import random
from dataclasses import dataclass

METALS = (
    "steel",
    "aluminium",
    "copper",
    "nickel",
    "zinc",
    "titanium",
    "tin",
    "lead",
    "scrap metal",
    "stainless steel",
    "cobalt",
    "lithium",
    "magnesium",
    "brass",
    "tungsten",
    "rare earth",
)
PRODUCTS = (
    "wire rod",
    "rebar",
    "hot-rolled coil",
    "cold-rolled sheet",
    "castings",
    "forgings",
    "extrusions",
    "tube",
    "plate",
    "billet",
    "ingot",
    "foil",
    "fasteners",
    "cable",
)
PARTNERS = (
    "EU",
    "US",
    "India",
    "Japan",
    "Canada",
    "Australia",
    "Turkey",
    "China",
    "South Korea",
    "Norway",
    "Switzerland",
    "the Gulf states",
    "Mexico",
    "Vietnam",
    "New Zealand",
    "Brazil",
)
PLACES = (
    "Sheffield",
    "Rotherham",
    "Port Talbot",
    "Scunthorpe",
    "Teesside",
    "the West Midlands",
    "Motherwell",
    "Swansea",
    "Wolverhampton",
    "Newport",
    "Lanarkshire",
    "South Yorkshire",
    "Tipton",
    "Walsall",
    "Deeside",
    "Humberside",
)
BODIES = (
    "Trade Remedies Authority",
    "Department for Business and Trade",
    "HM Treasury",
    "Department for Energy Security and Net Zero",
    "HMRC",
    "Environment Agency",
    "Business and Trade Committee",
    "Ofgem",
    "Innovate UK",
    "British Business Bank",
)
FIRMS = (
    "British Steel",
    "Tata Steel UK",
    "Liberty Steel",
    "Celsa",
    "Outokumpu",
    "Sheffield Forgemasters",
    "Alvance",
    "EMR",
    "Sims Metal",
    "Novelis",
    "Speira",
    "Wolverhampton Tube",
    "Marcegaglia",
)
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

TEMPLATES = (
    "UK {metal} tariff quotas on {product} {extended} until {month} {year}",
    "{body} opens consultation on {metal} {product} safeguard measures",
    "{body} launches review of anti-dumping duties on {partner} {metal} {product}",
    "UK and {partner} agree to cut tariffs on {metal} {product} by {percent}%",
    "{firm} to invest £{money} million in {place} {metal} plant",
    "{firm} confirms {jobs} jobs at risk at {place} {metal} works",
    "Government announces £{money} million fund for {metal} decarbonisation in {place}",
    "{metal} prices {moved} {percent}% as {partner} tariffs take effect",
    "UK steel industry warns {partner} tariff of {percent}% threatens {product} exports",
    "Call for evidence: {metal} recycling and scrap exports to {partner}",
    "{body} publishes guidance on carbon border adjustment for {metal} imports",
    "New UK {metal} {product} standard comes into force in {month} {year}",
    "{place} {metal} recycler wins £{money} million Innovate UK grant",
    "Electricity costs for {metal} producers in {place} to fall by {percent}% from {month}",
    "UK-{partner} free trade agreement: what it means for {metal} {product}",
    "Critical minerals strategy: UK secures {metal} supply deal with {partner}",
    "{firm} apprenticeship scheme to train {jobs} {metal} workers in {place}",
    "Webinar on {month} {day}: exporting {metal} {product} to {partner} after new tariffs",
    "{body} extends deadline for {metal} {product} tariff suspension requests to {month} {day}",
    "Net zero: {firm} starts electric arc furnace trials at {place}",
)
STANDFIRSTS = (
    "The change affects importers and UK producers of {metal} {product}; members should check "
    "their contracts before {month}.",
    "The {body} said the measure would be reviewed in {year}. Responses are invited from "
    "businesses across the supply chain.",
    "Trade bodies welcomed the announcement but warned that energy costs in {place} remain "
    "among the highest in Europe.",
    "The decision follows representations from the UK steel and metals sector about imports "
    "from {partner}.",
    "Officials said the scheme would open to applications in {month} {year}, with grants of up "
    "to £{money} million.",
)
# A re-post rewords the headline a little, as trade press does with GOV.UK's titles.
REWORDINGS = (("UK", "British"), ("Government", "Ministers"), ("announces", "unveils"))


@dataclass(frozen=True)
class Headline:
    title: str
    summary: str


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        metal=rng.choice(METALS),
        product=rng.choice(PRODUCTS),
        partner=rng.choice(PARTNERS),
        place=rng.choice(PLACES),
        body=rng.choice(BODIES),
        firm=rng.choice(FIRMS),
        month=rng.choice(MONTHS),
        year=rng.choice((2026, 2027, 2028)),
        day=rng.randint(1, 28),
        percent=rng.choice((5, 10, 12, 15, 20, 25, 30, 40, 50)),
        money=rng.choice((2, 5, 12, 20, 45, 80, 150, 300)),
        jobs=rng.choice((40, 120, 250, 400, 800, 2000)),
        extended=rng.choice(("extended", "tightened", "cut", "reviewed")),
        moved=rng.choice(("rise", "fall", "climb", "slip")),
    )


def headlines(count: int, rng: random.Random) -> list[Headline]:
    """`count` distinct headlines with standfirsts."""
    seen: set[str] = set()
    out: list[Headline] = []
    while len(out) < count:
        title = _fill(rng.choice(TEMPLATES), rng)
        title = title[0].upper() + title[1:]
        if title not in seen:
            seen.add(title)
            out.append(Headline(title, _fill(rng.choice(STANDFIRSTS), rng)))
    return out


def reposted(headline: Headline, rng: random.Random) -> Headline:
    """The same story as another source titles it: one word swapped, or the case changed."""
    title = headline.title
    for before, after in REWORDINGS:
        if before in title.split():
            return Headline(title.replace(before, after, 1), headline.summary)
    return Headline(title.upper() if rng.random() < 0.5 else title + ".", headline.summary)
