"""Optional access control for a hosted app: an app password, or OIDC login when configured.

- ``app_password = "..."`` in ``.streamlit/secrets.toml`` asks every visitor for it once per
  session. Wrong passwords are slowed down: after :data:`FREE_TRIES` wrong ones, each next
  try waits :func:`delay` seconds, counted per session and per client address (the longer
  wait wins); tries during the wait are refused unchecked. A right password clears both.
- An ``[auth]`` section in secrets (see Streamlit's ``st.login`` docs) makes visitors log in
  with that identity provider instead.
- With neither, the app is open (the default for local use).

The page and query parameters a visitor opened (a deep link) are kept through the password
screen: :func:`take_deep_link` hands them to the shell once the gate opens (an OIDC login
leaves the app and comes back to its start page). The gate guards only what
the app's script draws: Streamlit's own routes (uploads, ``/media/``, ``/_stcore/metrics``)
answer without it (see README, "Hosting for a team").
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import streamlit as st

from kpi_logic import share
from kpi_logic.text import markdown_text

FREE_TRIES = 3  # wrong passwords before the first wait
MAX_DELAY = 300.0  # seconds: the longest wait between tries
FORGET_AFTER = 3600.0  # seconds without a wrong try after which a client starts afresh
MAX_CLIENTS = 10_000  # client addresses remembered; the least recently seen go first

clock = time.monotonic  # seconds; the one clock of the gate


def delay(failures: int) -> float:
    """Seconds to wait after ``failures`` wrong passwords: none for the first
    :data:`FREE_TRIES`, then 1, 2, 4, ... up to :data:`MAX_DELAY`.

    >>> [delay(n) for n in (3, 4, 5, 6)]
    [0.0, 1.0, 2.0, 4.0]
    """
    if failures <= FREE_TRIES:
        return 0.0
    return min(MAX_DELAY, 2.0 ** min(failures - FREE_TRIES - 1, 64))


@dataclass
class _Tries:
    """Wrong passwords of one session or client, and when the next try is allowed."""

    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0

    def fail(self, now: float) -> None:
        if now - self.last_failure > FORGET_AFTER:
            self.failures = 0
        self.failures += 1
        self.last_failure = now
        self.locked_until = now + delay(self.failures)


_clients: OrderedDict[str, _Tries] = OrderedDict()  # client address -> its tries, process-wide
_clients_lock = threading.Lock()


def _client() -> str:
    """The visitor's address as the server sees it (behind a reverse proxy: the proxy's);
    "local" for localhost (Streamlit gives None) and where there is no connection (AppTest)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "local"


def _client_tries(client: str) -> _Tries:
    """The tries of ``client``, remembered among at most :data:`MAX_CLIENTS` (caller locks)."""
    tries = _clients.get(client)
    if tries is None:
        tries = _clients[client] = _Tries()
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
    _clients.move_to_end(client)
    return tries


def _secret(name: str) -> object | None:
    try:
        return st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml at all
        return None


def allowed() -> bool:
    """Return True when the visitor may see the app; otherwise draw the gate and return False."""
    if _secret("auth"):
        if st.user.is_logged_in:
            who = markdown_text(st.user.get("email") or st.user.get("name"))
            st.sidebar.caption(f"Signed in as {who}")
            st.sidebar.button("Log out", on_click=st.logout)
            return True
        st.title("KPI Explorer")
        st.button("Log in", on_click=st.login, type="primary")
        return False
    password = _secret("app_password")
    if not password or st.session_state.get("access_granted"):
        return True
    _remember_deep_link()
    st.title("KPI Explorer")
    with st.form("access_gate", clear_on_submit=True, enter_to_submit=True, border=False):
        typed = st.text_input("App password", type="password", key="app_password_input")
        tried = st.form_submit_button("Enter", type="primary")
    if tried and typed:
        _try(typed, str(password))
    return False


def _try(typed: str, password: str) -> None:
    """Check one try unless this session or client must still wait; open the gate or say why
    not."""
    session = st.session_state.setdefault("access_tries", _Tries())
    client = _client()
    now = clock()
    with _clients_lock:
        wait = max(session.locked_until, _client_tries(client).locked_until) - now
    if wait > 0:
        st.error(f"Too many wrong passwords. Wait {math.ceil(wait)} s, then try again.")
        return
    if hmac.compare_digest(typed.encode(), password.encode()):
        with _clients_lock:
            _clients.pop(client, None)
        del st.session_state["access_tries"]
        st.session_state["access_granted"] = True
        st.rerun()
    session.fail(now)
    with _clients_lock:
        tries = _client_tries(client)
        tries.fail(now)
        wait = max(session.locked_until, tries.locked_until) - now
    message = "That password is not right."
    if wait > 0:
        message += f" Wait {math.ceil(wait)} s before the next try."
    st.error(message)


@dataclass(frozen=True)
class DeepLink:
    """The page (a URL path of ``share.PAGES``) and query parameters a visitor opened."""

    page: str
    params: dict[str, str]


def _remember_deep_link() -> None:
    """Keep the address of the session's first gate run, for after the gate opens."""
    if "access_deep_link" in st.session_state:
        return
    page = urlsplit(st.context.url or "").path.rstrip("/").rpartition("/")[2]
    st.session_state["access_deep_link"] = DeepLink(
        page if page in share.PAGES else share.DEFAULT_PAGE, st.query_params.to_dict()
    )


def take_deep_link() -> DeepLink | None:
    """The address the visitor opened before the gate, once, on the run after it opened."""
    return st.session_state.pop("access_deep_link", None)
