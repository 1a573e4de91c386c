"""The members' archive of bulletins: each sent bulletin's page, where its email's "view in
your browser" leads. Public, like an association's news page: no personal links on it."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from alerter.bulletins import BulletinError, content_of, get_bulletin, list_bulletins
from alerter.delivery.compose.bulletins import markdown_html
from alerter.web.deps import SessionDep, SettingsDep, page

router = APIRouter(prefix="/bulletins")


@router.get("")
def archive_page(request: Request, session: SessionDep) -> HTMLResponse:
    return page(request, "pages/bulletins.html", bulletins=list_bulletins(session, sent_only=True))


@router.get("/{bulletin_id}")
def archived_bulletin(
    request: Request, bulletin_id: int, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    try:
        bulletin = get_bulletin(session, bulletin_id)
    except BulletinError:
        bulletin = None
    if bulletin is None or bulletin.status == "draft":  # drafts are staff's alone
        return page(
            request,
            "pages/message.html",
            404,
            heading="No such bulletin",
            paragraphs=["It may have been mistyped.", "All bulletins are listed in the archive."],
            link={"href": "/bulletins", "text": "The bulletin archive"},
        )
    content = content_of(session, settings, request.app.state.taxonomy, bulletin)
    return page(
        request,
        "pages/bulletin.html",
        bulletin=bulletin,
        content=content,
        introduction_html=markdown_html(content.introduction),
    )
