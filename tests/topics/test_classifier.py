"""Classifying an item: taxonomy phrases in its title and summary, GOV.UK metadata and
staff-labelled examples decide its topics, and the evidence says why.

Most tests use a small taxonomy built here with no learned model, so its topics are decided by
the taxonomy's points (as a topic staff just added would be) and the tests do not depend on how
the shipped model is trained; the last few hold the shipped classifier to the product's
promises."""

from collections.abc import Sequence

import pytest

from alerter.config import DEFAULT_TOPICS_FILE
from alerter.topics.classifier import Classification, Classifier, Evidence, Text
from alerter.topics.evidence import item_text
from alerter.topics.examples import SIMILARITY, ExampleMatcher, LabelledExample
from alerter.topics.matching import compile_phrase
from alerter.topics.model import shipped_model
from alerter.topics.taxonomy import Taxonomy, Topic, load_taxonomy


def topic(
    topic_id: str,
    *,
    phrases: Sequence[str] = (),
    strong: Sequence[str] = (),
    exclude: Sequence[str] = (),
    veto: Sequence[str] = (),
    govuk_types: Sequence[str] = (),
    govuk_organisations: Sequence[str] = (),
) -> Topic:
    return Topic(
        id=topic_id,
        label=topic_id.capitalize(),
        description=f"About {topic_id}.",
        phrases=tuple(map(compile_phrase, phrases)),
        strong=tuple(map(compile_phrase, strong)),
        exclude=tuple(map(compile_phrase, exclude)),
        veto=tuple(map(compile_phrase, veto)),
        govuk_types=frozenset(govuk_types),
        govuk_organisations=frozenset(govuk_organisations),
        threshold=2.0,
    )


TAXONOMY = Taxonomy(
    (
        topic(
            "tariffs",
            phrases=["tariff*", "duty"],
            strong=["anti dumping"],
            exclude=["feed in tariff*"],
            veto=["rail fare*"],
            govuk_organisations=["trade-remedies-authority"],
        ),
        topic("critical-minerals", phrases=["mineral*"], strong=["critical mineral*"]),
        topic(
            "consultations",
            strong=["call for evidence"],
            govuk_types=["open_consultation", "committee_inquiry"],
        ),
        topic("skills", strong=["apprentice*"]),
    )
)

CASTINGS_REPORT = LabelledExample(
    item_id=7,
    title="Castings sector outlook report published by the Federation",
    summary="Annual survey of foundries",
    added=frozenset({"skills"}),
    removed=frozenset(),
)
PORT_CHARGES = LabelledExample(
    item_id=9,
    title="Port of Tilbury tariff for berthing vessels revised",
    summary="New harbour charges from April",
    added=frozenset(),
    removed=frozenset({"tariffs"}),
)


def classify(title: str, summary: str = "", **metadata: object) -> Classification:
    return Classifier(TAXONOMY).classify(Text(title, summary, metadata))


def test_a_phrase_in_the_title_assigns_its_topic() -> None:
    result = classify("Steel tariffs to rise in April")

    assert result.topics == ("tariffs",)
    assert result.evidence["tariffs"] == (Evidence("phrase", "tariff*", "title", 2.0),)


def test_the_same_phrase_only_in_the_summary_is_not_enough() -> None:
    result = classify("Steel market update", "Tariffs may rise in April.")

    assert result.topics == ()


def test_a_strong_phrase_assigns_its_topic_from_the_summary() -> None:
    result = classify("Steel market update", "The UK opens an anti-dumping case.")

    assert result.evidence["tariffs"] == (Evidence("phrase", "anti dumping", "summary", 3.0),)


def test_weak_phrases_in_the_summary_add_up() -> None:
    result = classify("Steel market update", "Tariffs and duty rates may rise.")

    assert result.evidence["tariffs"] == (
        Evidence("phrase", "tariff*", "summary", 1.0),
        Evidence("phrase", "duty", "summary", 1.0),
    )


def test_an_item_can_have_several_topics() -> None:
    result = classify("New tariffs on critical minerals")

    assert result.topics == ("tariffs", "critical-minerals")


def test_an_item_can_have_no_topic() -> None:
    result = classify("Foundry wins regional safety award", "Judges praised its record.")

    assert (result.topics, result.evidence) == ((), {})


def test_an_excluded_phrase_hides_its_words_from_the_topic() -> None:
    result = classify("Feed-in tariffs to close next year")

    assert result.topics == ()


def test_an_excluded_phrase_hides_only_its_own_words() -> None:
    result = classify("Feed-in tariff closes as new steel tariffs are announced")

    assert result.evidence["tariffs"] == (Evidence("phrase", "tariff*", "title", 2.0),)


def test_a_veto_silences_ordinary_phrases() -> None:
    result = classify("Rail fares rise under the new tariff")

    assert result.topics == ()


def test_a_veto_leaves_strong_phrases() -> None:
    result = classify("Rail fares rise", "Separately, an anti-dumping case on steel rail opens.")

    assert result.topics == ("tariffs",)


@pytest.mark.parametrize(
    "metadata",
    [
        {"content_store_document_type": "open_consultation"},
        {"display_type": "Open consultation"},
        {"content_store_document_type": "open_consultation", "display_type": "Open consultation"},
    ],
    ids=["content store type", "display type", "both"],
)
def test_an_open_consultation_on_gov_uk_is_a_consultation(metadata: dict[str, str]) -> None:
    result = classify("Steel safeguard review", **metadata)

    assert result.topics == ("consultations",)
    assert result.evidence["consultations"] == (
        Evidence("metadata", "open_consultation", "content type", 3.0),
    )


def test_the_document_type_of_a_publishers_record_counts_as_a_content_type() -> None:
    text = item_text("Foundry skills", "The committee takes evidence.", {}, "committee_inquiry")

    result = Classifier(TAXONOMY).classify(text)

    assert result.topics == ("consultations",)
    assert result.evidence["consultations"] == (
        Evidence("metadata", "committee_inquiry", "content type", 3.0),
    )


def test_an_item_without_a_record_keeps_its_metadata_as_it_is() -> None:
    metadata = {"content_store_document_type": "news_story"}

    assert item_text("Title", "Summary", metadata, None) == Text("Title", "Summary", metadata)


def test_a_gov_uk_organisation_adds_a_point_under_the_name_gov_uk_gives_it() -> None:
    result = classify(
        "Aluminium extrusions review",
        "Duty rates are under review.",
        organisations=[
            {"slug": "trade-remedies-authority", "title": "Trade Remedies Authority (TRA)"}
        ],
    )

    assert result.evidence["tariffs"] == (
        Evidence("phrase", "duty", "summary", 1.0),
        Evidence("metadata", "Trade Remedies Authority (TRA)", "organisation", 1.0),
    )


def test_an_organisation_gov_uk_gave_no_title_is_named_from_its_slug() -> None:
    result = classify(
        "Aluminium extrusions review",
        "Duty rates are under review.",
        organisations=[{"slug": "trade-remedies-authority", "acronym": "TRA"}],
    )

    named = Evidence("metadata", "Trade Remedies Authority", "organisation", 1.0)

    assert named in result.evidence["tariffs"]


def test_a_gov_uk_organisation_alone_is_not_enough() -> None:
    result = classify(
        "Aluminium extrusions review", organisations=[{"slug": "trade-remedies-authority"}]
    )

    assert result.topics == ()


def test_a_word_explained_by_a_longer_phrase_counts_once() -> None:
    result = classify("Critical minerals strategy published")

    assert result.evidence["critical-minerals"] == (
        Evidence("phrase", "critical mineral*", "title", 3.0),
    )


def test_a_phrase_in_title_and_summary_counts_once_where_it_is_worth_most() -> None:
    result = classify("Steel tariffs to rise", "Tariffs on wire rod rise first.")

    assert result.evidence["tariffs"] == (Evidence("phrase", "tariff*", "title", 2.0),)


def test_public_form_lists_topics_and_evidence_in_taxonomy_order() -> None:
    result = classify("Critical minerals face new tariffs")

    public = result.public()

    assert public == {
        "topics": ["tariffs", "critical-minerals"],
        "evidence": {
            "tariffs": [{"kind": "phrase", "text": "tariff*", "where": "title", "points": 2.0}],
            "critical-minerals": [
                {"kind": "phrase", "text": "critical mineral*", "where": "title", "points": 3.0}
            ],
        },
    }
    assert list(public["evidence"]) == ["tariffs", "critical-minerals"]


def test_classify_many_answers_each_text_in_order() -> None:
    classifier = Classifier(TAXONOMY)

    results = classifier.classify_many([Text("New steel tariffs"), Text("Apprentice of the year")])

    assert [result.topics for result in results] == [("tariffs",), ("skills",)]


@pytest.mark.parametrize(
    ("evidence", "words"),
    [
        (Evidence("phrase", "tariff*", "title", 2.0), "“tariff*” in the title"),
        (
            Evidence("metadata", "open_consultation", "content type", 3.0),
            "published as an open consultation",
        ),
        (
            Evidence("metadata", "committee_inquiry", "content type", 3.0),
            "published as a committee inquiry",
        ),
        (
            Evidence("metadata", "Department for Business and Trade", "organisation", 1.0),
            "published by Department for Business and Trade",
        ),
        (
            Evidence("metadata", "hm-revenue-customs", "organisation", 1.0),
            "published by HM Revenue Customs",
        ),
        (
            Evidence("example", "Castings outlook", "item 7", 0.83),
            "like item 7 (“Castings outlook”), which staff labelled",
        ),
        (Evidence("staff", "ann@alfed", "correction", 0.0), "set by staff (ann@alfed)"),
    ],
    ids=[
        "phrase",
        "content type",
        "record type",
        "organisation",
        "organisation stored as its slug",
        "example",
        "staff",
    ],
)
def test_evidence_describes_itself_in_words(evidence: Evidence, words: str) -> None:
    assert evidence.describe() == words


def test_a_labelled_example_adds_its_topic_to_a_very_similar_item() -> None:
    classifier = Classifier(TAXONOMY, examples=ExampleMatcher([CASTINGS_REPORT, PORT_CHARGES]))

    result = classifier.classify(
        Text("Castings sector outlook report 2027 published by the Federation")
    )

    assert result.topics == ("skills",)
    [evidence] = result.evidence["skills"]
    assert (evidence.kind, evidence.text, evidence.where) == (
        "example",
        CASTINGS_REPORT.title,
        "item 7",
    )
    assert SIMILARITY <= evidence.points <= 1.0


def test_a_labelled_example_removes_a_topic_staff_removed_from_a_very_similar_item() -> None:
    text = Text("Port of Tilbury tariffs for berthing vessels revised again", "Harbour charges")
    assert Classifier(TAXONOMY).classify(text).topics == ("tariffs",)
    classifier = Classifier(TAXONOMY, examples=ExampleMatcher([CASTINGS_REPORT, PORT_CHARGES]))

    result = classifier.classify(text)

    assert result.topics == ()


def test_labelled_examples_leave_a_dissimilar_item_to_the_rules() -> None:
    text = Text("New steel tariffs on imports from the EU")
    with_examples = Classifier(TAXONOMY, examples=ExampleMatcher([CASTINGS_REPORT, PORT_CHARGES]))

    result = with_examples.classify(text)

    assert result == Classifier(TAXONOMY).classify(text)
    assert result.topics == ("tariffs",)


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    taxonomy = load_taxonomy(DEFAULT_TOPICS_FILE)
    return Classifier(taxonomy, shipped_model(taxonomy))


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        pytest.param(
            "Industrial decarbonization: guidance for foundries", "", "net-zero", id="-ization"
        ),
        pytest.param("Secondary aluminum output rises", "", "recycling", id="aluminum"),
        pytest.param("Anti-dumping duties on aluminium extrusions", "", "tariffs", id="duties"),
        pytest.param(
            "Steel wire from China", "Two subsidy investigations opened.", "tariffs", id="plural"
        ),
        pytest.param("CBAM: guidance for steel exporters", "", "tariffs", id="CBAM"),
        pytest.param("The TRA\u2019s final determination on steel wire", "", "tariffs", id="TRA's"),
        pytest.param("UK and India sign MoU on steel", "", "trade-agreements", id="MoU"),
    ],
)
def test_the_shipped_taxonomy_folds_spelling_plurals_and_abbreviations(
    shipped: Classifier, title: str, summary: str, expected: str
) -> None:
    result = shipped.classify(Text(title, summary))

    assert expected in result.topics


def test_the_shipped_taxonomy_does_not_read_a_rail_fare_tariff_as_trade(
    shipped: Classifier,
) -> None:
    result = shipped.classify(
        Text("Rail fares: regulated tariff rise confirmed", "Season tickets go up in March.")
    )

    assert "tariffs" not in result.topics


@pytest.mark.parametrize(
    "metadata",
    [
        {"content_store_document_type": "open_call_for_evidence"},
        {"display_type": "Closed call for evidence"},
        {"document_type": "committee_inquiry"},
        {"document_type": "call_for_evidence"},
    ],
    ids=["GOV.UK open call for evidence", "GOV.UK closed", "committee inquiry", "record type"],
)
def test_the_shipped_classifier_reads_calls_for_evidence_and_inquiries_as_consultations(
    shipped: Classifier, metadata: dict[str, str]
) -> None:
    # Words that say nothing of responding: the kind of document is the evidence.
    text = Text(
        "Aluminium foundries and the supply of scrap",
        "How foundries buy and use scrap, and what limits its supply.",
        metadata,
    )

    result = shipped.classify(text)

    assert "consultations" in result.topics
    assert any(e.kind == "metadata" for e in result.evidence["consultations"])
