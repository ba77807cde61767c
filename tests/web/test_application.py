"""The portal's Flask class: kept URLs, dict items read first in templates,
one session serializer per key - each giving exactly what Flask gives."""

from __future__ import annotations

import typing as t

import flask
import pytest
from flask import Blueprint, Flask

from heliograph.web import application
from heliograph.web.application import Portal


def build(kind: type[Flask]) -> Flask:
    app = kind("urls_under_test")
    app.config["SECRET_KEY"] = "a secret for the tests"
    for name in ("alpha", "beta"):
        blueprint = Blueprint(name, __name__, url_prefix=f"/{name}")
        blueprint.add_url_rule("/", "index", lambda: "")
        blueprint.add_url_rule("/<id>", "read", lambda id: "")
        app.register_blueprint(blueprint)
    app.add_url_rule("/search", "search", lambda: "")
    return app


CASES: list[tuple[str, dict[str, t.Any]]] = [
    ("alpha.read", {"id": "one"}),
    ("alpha.read", {"id": 7}),
    ("search", {"tags": "a b", "page": 2}),
    ("search", {"page": 2, "tags": "a b"}),  # the query keeps the values' order
    ("search", {"flag": True}),
    ("search", {"flag": 1}),  # equal to True, written otherwise
    ("search", {"q": None}),
    ("search", {"_anchor": "top", "q": "x"}),
    ("search", {"_external": True}),
    ("beta.read", {"id": "ü/ß", "_method": "GET"}),
]


@pytest.mark.parametrize(
    ("base_url", "root"),
    [("http://example.org", ""), ("https://other.example:8443/portal", "/portal")],
)
@pytest.mark.parametrize("path", ["/alpha/", "/beta/"])
def test_url_for_gives_what_flask_gives_on_every_host_root_and_blueprint(
    base_url: str, root: str, path: str
) -> None:
    plain, portal = build(Flask), build(Portal)
    for _ in range(2):  # built, then kept
        expected, got = [], []
        for app, out in ((plain, expected), (portal, got)):
            with app.test_request_context(path, base_url=base_url):
                out.extend(flask.url_for(endpoint, **dict(values)) for endpoint, values in CASES)
                out.append(flask.url_for(".read", id="relative"))
                out.append(flask.url_for(".index"))
        assert got == expected
    assert expected[-2:] == [f"{root}{path}relative", f"{root}{path}"]
    assert f"{base_url}/search" in expected  # _external=True


def test_url_for_keeps_no_url_while_url_defaults_may_add_values() -> None:
    app = build(Portal)
    language = {"value": "en"}

    @app.url_defaults
    def add_language(endpoint: str, values: dict[str, t.Any]) -> None:
        values.setdefault("lang", language["value"])

    with app.test_request_context("/"):
        assert flask.url_for("search") == "/search?lang=en"
        language["value"] = "fr"
        assert flask.url_for("search") == "/search?lang=fr"


def test_url_for_outside_a_request_and_with_objects_as_values_is_flasks() -> None:
    app = build(Portal)
    app.config["SERVER_NAME"] = "example.org"

    class Ident:
        def __init__(self) -> None:
            self.value = "first"

        def __str__(self) -> str:
            return self.value

    ident = Ident()
    with app.app_context():
        assert flask.url_for("search") == "http://example.org/search"
    with app.test_request_context("/"):
        assert flask.url_for("alpha.read", id=ident) == "/alpha/first"
        ident.value = "second"  # not a plain value: never kept
        assert flask.url_for("alpha.read", id=ident) == "/alpha/second"


def test_url_for_keeps_a_bounded_number_of_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(application, "MAX_URLS", 5)
    monkeypatch.setattr(application, "MAX_HOSTS", 3)
    app = build(Portal)
    kept: dict[t.Any, dict[t.Any, str]] = app._urls  # type: ignore[attr-defined]
    with app.test_request_context("/"):
        for number in range(23):
            assert flask.url_for("alpha.read", id=number) == f"/alpha/{number}"
            assert sum(map(len, kept.values())) <= 5
    for number in range(10):  # a client may send any Host header
        host = f"http://host-{number}.example"
        with app.test_request_context("/", base_url=host):
            assert flask.url_for("search", _external=True) == f"{host}/search"
        assert len(kept) <= 3


def test_url_build_errors_still_raise() -> None:
    app = build(Portal)
    with app.test_request_context("/"), pytest.raises(Exception, match="Could not build url"):
        flask.url_for("nowhere")


TEMPLATE = (
    "{{ d.title }}|{{ d.missing }}|{{ d.items is callable }}|{{ d.get('title') }}|"
    "{{ s.title }}|{{ o.real }}|{{ d['items'] }}"
)


class Sub(dict[str, t.Any]):
    title = "the attribute"


def test_templates_read_dict_items_as_jinja_does() -> None:
    values = {
        "d": {"title": "T", "items": "an item called items"},
        "s": Sub(title="the item"),
        "o": 3,
    }
    rendered = []
    for kind in (Flask, Portal):
        app = build(kind)
        with app.app_context():
            rendered.append(flask.render_template_string(TEMPLATE, **values))
    assert rendered[0] == rendered[1] == "T||True|T|the attribute|3|an item called items"


def test_one_session_serializer_per_secret_key() -> None:
    app = build(Portal)
    interface = app.session_interface
    first = interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    assert interface.get_signing_serializer(app) is first  # type: ignore[attr-defined]

    @app.route("/count")
    def count() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    client = app.test_client()
    assert client.get("/count").text == "1"
    assert client.get("/count").text == "2"
    app.config["SECRET_KEY"] = "a new secret"
    app.config["SECRET_KEY_FALLBACKS"] = ["a secret for the tests"]
    assert interface.get_signing_serializer(app) is not first  # type: ignore[attr-defined]
    assert client.get("/count").text == "3"  # the old cookie still reads
    app.config["SECRET_KEY_FALLBACKS"] = []
    app.config["SECRET_KEY"] = "yet another secret"
    assert client.get("/count").text == "1"  # signed with a key no longer known


def _session_app(kind: type[Flask]) -> Flask:
    app = build(kind)

    @app.route("/look")
    def look() -> str:
        return str(flask.session.get("n"))

    @app.route("/vary")
    def vary() -> flask.Response:
        flask.session.get("n")
        return flask.Response("", headers={"Vary": "Accept-Encoding"})

    @app.route("/untouched")
    def untouched() -> str:
        return ""

    @app.route("/set")
    def set_it() -> str:
        flask.session["n"] = 1
        return ""

    @app.route("/clear")
    def clear() -> str:
        flask.session.clear()
        return ""

    return app


def test_an_empty_session_is_saved_as_flask_saves_it() -> None:
    """Vary and Set-Cookie as Flask gives them, for an empty session looked
    at, not looked at, beside another Vary, and emptied."""
    ours, flasks = _session_app(Portal), _session_app(Flask)
    for path in ("/look", "/vary", "/untouched", "/set", "/clear", "/look"):
        answers = []
        for app in (ours, flasks):
            client = app.test_client()
            if path == "/clear":
                client.get("/set")
            response = client.get(path)
            answers.append((response.headers.get("Vary"), response.headers.get("Set-Cookie")))
        assert answers[0] == answers[1], path
    assert answers[0][0] == "Cookie"


def test_ensure_sync_answers_as_flask_for_plain_and_coroutine_functions() -> None:
    plain, portal = build(Flask), build(Portal)

    def hook() -> None:
        return None

    async def coroutine_hook() -> None:
        return None

    class Hooks:
        def method(self) -> None:
            return None

        async def coroutine_method(self) -> None:
            return None

    hooks = Hooks()
    for _ in range(2):  # asked, then remembered
        assert portal.ensure_sync(hook) is hook is plain.ensure_sync(hook)
        method = hooks.method
        assert portal.ensure_sync(method) is method is plain.ensure_sync(method)
        for coroutine in (coroutine_hook, hooks.coroutine_method):
            outcomes = []
            for app in (plain, portal):
                try:
                    made = app.ensure_sync(coroutine)
                except RuntimeError as exc:  # Flask without its async extra
                    outcomes.append(str(exc))
                else:
                    outcomes.append("wrapped" if made is not coroutine else "as is")
            assert outcomes[0] == outcomes[1] != "as is"


def test_templates_see_flask_logins_current_user_for_anonymous_and_logged_in(
    app: Flask, client: t.Any
) -> None:
    """Flask-Login's own context processor is off (a page nobody is logged in
    to never asks it); templates still read ``current_user``, loaded lazily."""
    from tests.web.accounts_helpers import log_in, make_user

    template = "{{ current_user.is_authenticated }} {{ current_user.name or '-' }}"

    @app.route("/whoami-under-test")
    def whoami() -> str:
        return flask.render_template_string(template)

    assert client.get("/whoami-under-test").text == "False -"
    make_user("carol")
    log_in(client, "carol")
    assert client.get("/whoami-under-test").text == "True carol"


def _routed(kind: type[Flask]) -> Flask:
    app = build(kind)
    app.add_url_rule("/n/<int:number>", "number", lambda number: str(number))
    app.add_url_rule("/p/<path:rest>", "rest", lambda rest: rest)
    app.add_url_rule("/slash/", "slash", lambda: "")
    app.add_url_rule("/post", "post", lambda: "", methods=["POST"])
    return app


ENVIRONS: list[dict[str, t.Any]] = [
    {"path": "/alpha/one"},
    {"path": "/alpha/caf%C3%A9", "base_url": "http://Example.ORG:80/root"},
    {"path": "/n/42", "base_url": "https://bücher.example:443"},
    {"path": "/n/x"},  # not found
    {"path": "/p/a/b/c", "query_string": "q=1&q=2"},
    {"path": "/slash"},  # a redirect to /slash/
    {"path": "/post"},  # method not allowed
    {"path": "/post", "method": "POST"},
    {"path": "/search", "headers": {"Host": "other.example:8080"}},
    {"path": "/search", "base_url": "http://localhost:5000", "method": "HEAD"},
]


def _what_routing_gives(app: Flask, spec: dict[str, t.Any]) -> tuple[t.Any, ...]:
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(**spec).get_environ()
    context = app.request_context(environ)
    with context:
        adapter = context.url_adapter
        request = flask.request
        error = request.routing_exception
        return (
            request.host,
            None
            if adapter is None
            else (
                adapter.server_name,
                adapter.script_name,
                adapter.subdomain,
                adapter.url_scheme,
                adapter.path_info,
                adapter.default_method,
                adapter.query_args,
            ),
            request.url_rule.endpoint if request.url_rule is not None else None,
            request.view_args,
            type(error).__name__ if error is not None else None,
            getattr(error, "new_url", None),
        )


def test_routing_gives_what_flask_gives_first_and_when_kept() -> None:
    """The host bound once per Host header, and the matches kept: the same
    adapter, host, rule, arguments and routing error as Flask's, on the first
    request and on the ones after."""
    ours, flasks = _routed(Portal), _routed(Flask)
    for _round in range(3):
        for spec in ENVIRONS:
            assert _what_routing_gives(ours, spec) == _what_routing_gives(flasks, spec), spec
    assert ours._matches and ours._binds  # type: ignore[attr-defined]


def test_kept_arguments_are_a_fresh_dict_each_request() -> None:
    app = _routed(Portal)
    spec = {"path": "/n/7"}
    first = _what_routing_gives(app, spec)
    from werkzeug.test import EnvironBuilder

    with app.request_context(EnvironBuilder(**spec).get_environ()):
        flask.request.view_args["number"] = 8  # type: ignore[index]
    assert _what_routing_gives(app, spec) == first


def test_a_map_with_a_converter_of_its_own_keeps_no_match() -> None:
    from werkzeug.routing import BaseConverter

    class Upper(BaseConverter):
        def to_python(self, value: str) -> str:
            return value.upper()

    app = build(Portal)
    app.url_map.converters["upper"] = Upper
    app.add_url_rule("/u/<upper:word>", "upper", lambda word: word)
    assert _what_routing_gives(app, {"path": "/u/abc"})[3] == {"word": "ABC"}
    assert app._matches == {}  # type: ignore[attr-defined]


def test_trusted_hosts_and_server_name_take_flasks_way() -> None:
    from werkzeug.test import EnvironBuilder

    app = _routed(Portal)
    app.config["TRUSTED_HOSTS"] = ["good.example"]
    environ = EnvironBuilder(path="/search", base_url="http://evil.example").get_environ()
    with app.request_context(environ):
        assert type(flask.request.routing_exception).__name__ == "SecurityError"
    app.config["TRUSTED_HOSTS"] = None
    app.config["SERVER_NAME"] = "portal.example"
    ours = _what_routing_gives(app, {"path": "/alpha/one", "base_url": "http://portal.example"})
    flasks_app = _routed(Flask)
    flasks_app.config["SERVER_NAME"] = "portal.example"
    spec = {"path": "/alpha/one", "base_url": "http://portal.example"}
    assert ours == _what_routing_gives(flasks_app, spec)
    assert app._binds == {}  # type: ignore[attr-defined]


def test_templates_call_functions_as_jinja_does() -> None:
    """Plain functions, methods, closures, functions taking the context, the
    eval context or the environment, callable objects and a StopIteration:
    the page is Jinja's, called once or many times."""
    import jinja2

    class Greeter:
        def hello(self, name: str) -> str:
            return f"hello {name}"

        @jinja2.pass_context
        def __call__(self, context: t.Any) -> str:
            return f"object sees {context['who']}"

    class Loud(Greeter):
        def hello(self, name: str) -> str:
            return super().hello(name).upper()

    def plain(a: int, b: int = 0) -> int:
        return a + b

    def stop() -> None:
        raise StopIteration

    factor = 3

    def closure(a: int) -> int:
        return a * factor

    template = (
        "{{ plain(1, b=2) }} {{ greeter.hello(who) }} {{ greeter() }} {{ with_context() }}"
        " {{ loud.hello(who) }}"
        " {{ with_eval() }} {{ with_env() }} {{ closure(2) }} [{{ stop() }}]"
        "{% for i in [1, 2] %} {{ plain(i) }}{{ with_context() }}{% endfor %}"
        "{% set x = plain(5) %} {{ x }}"
    )
    pages = []
    for kind in (Portal, Flask):
        app = build(kind)
        app.jinja_env.globals.update(
            plain=plain,
            greeter=Greeter(),
            loud=Loud(),
            stop=stop,
            closure=closure,
            with_context=jinja2.pass_context(lambda context: context["who"]),
            with_eval=jinja2.pass_eval_context(lambda eval_context: eval_context.autoescape),
            with_env=jinja2.pass_environment(lambda env: type(env).__mro__[-2].__name__),
        )
        with app.test_request_context("/"):
            pages.append([flask.render_template_string(template, who="sun") for _ in range(3)])
    assert pages[0] == pages[1]
    assert pages[0][0].startswith("3 hello sun object sees sun sun HELLO SUN True Environment 6 []")
