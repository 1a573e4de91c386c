"""The staff console's topic editing: a topic's label, description and phrases, with a preview
of the stored items the change would give or take the topic. Nothing is saved yet."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from alerter.topics.editing import PREVIEW_EXAMPLES, TopicEdit, edited_taxonomy, preview_edit
from alerter.web.deps import ClockDep, CsrfChecked, SessionDep, staff_message, staff_page
from alerter.web.staff_auth import CurrentStaff

router = APIRouter(prefix="/staff/topics")
PREVIEW_WINDOW = timedelta(days=90)


def _not_found(request: Request, staff: Any, topic_id: str) -> HTMLResponse:
    return staff_message(
        request,
        staff,
        404,
        "No such topic",
        f"There is no topic “{topic_id}”.",
        link={"href": "/staff/topics", "text": "Back to topics"},
    )


@router.get("/{topic_id}/edit")
def edit_topic_page(request: Request, staff: CurrentStaff, topic_id: str) -> HTMLResponse:
    topic = request.app.state.taxonomy.get(topic_id)
    if topic is None:
        return _not_found(request, staff, topic_id)
    edit = TopicEdit(topic.label, topic.description, tuple(p.text for p in topic.phrases))
    return staff_page(request, "topic_edit.html", staff, topic=topic, edit=edit, errors={})


@router.post("/{topic_id}/edit", dependencies=[CsrfChecked])
def preview_topic_edit(
    request: Request,
    session: SessionDep,
    staff: CurrentStaff,
    clock: ClockDep,
    topic_id: str,
    label: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    phrases: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Check the edit and show what it would change; the edit stays in the form."""
    taxonomy = request.app.state.taxonomy
    topic = taxonomy.get(topic_id)
    if topic is None:
        return _not_found(request, staff, topic_id)
    lines = tuple(line.strip() for line in phrases.splitlines() if line.strip())
    edit = TopicEdit(label.strip(), description.strip(), lines)
    proposed, errors = edited_taxonomy(taxonomy, topic_id, edit)
    if proposed is None:
        return staff_page(
            request, "topic_edit.html", staff, 400, topic=topic, edit=edit, errors=errors
        )
    preview = preview_edit(session, taxonomy, proposed, topic_id, clock() - PREVIEW_WINDOW)
    return staff_page(
        request,
        "topic_edit.html",
        staff,
        topic=topic,
        edit=edit,
        errors={},
        preview=preview,
        shown=PREVIEW_EXAMPLES,
    )
