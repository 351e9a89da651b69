"""Which containers logship follows: include/exclude lists and the containers' own opt-outs."""

from __future__ import annotations

import pytest

from logship.record import ContainerMeta
from logship.sources.filters import ContainerFilter, Selector, label_matches
from tests.helpers.records import make_meta


def container(
    name: str = "web-1",
    image: str = "nginx:1.25",
    labels: dict[str, str] | None = None,
    env: tuple[str, ...] = ("PATH=/usr/bin",),
) -> ContainerMeta:
    return make_meta(name=name, image=image, labels=labels or {}, env=env)


def include(**lists: tuple[str, ...]) -> ContainerFilter:
    return ContainerFilter(include=Selector(**lists))


def exclude(**lists: tuple[str, ...]) -> ContainerFilter:
    return ContainerFilter(exclude=Selector(**lists))


def test_with_no_lists_every_container_is_followed() -> None:
    assert ContainerFilter().reason_to_skip(container()) is None


def test_a_selector_is_true_only_when_some_list_is_not_empty() -> None:
    assert not Selector()
    assert Selector(names=("a",))
    assert Selector(images=("a",))
    assert Selector(labels=("a",))


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("globs", "name", "followed"),
    [
        (("web-1",), "web-1", True),
        (("web-*",), "web-1", True),
        (("web-?",), "web-12", False),
        (("db", "web-*"), "web-1", True),
        (("db", "cache"), "web-1", False),
        (("*_db",), "shop_db", True),
        (("WEB-*",), "web-1", False),
        (("web-[0-9]",), "web-7", True),
    ],
)
def test_include_names_follows_only_containers_matching_some_name_glob(
    globs: tuple[str, ...], name: str, followed: bool
) -> None:
    reason = include(names=globs).reason_to_skip(container(name=name))
    assert reason == (None if followed else "name not included")


def test_exclude_names_skips_a_matching_container_and_says_which_glob() -> None:
    flt = exclude(names=("db", "*-canary"))
    assert flt.reason_to_skip(container(name="web-canary")) == "name excluded by '*-canary'"
    assert flt.reason_to_skip(container(name="web-1")) is None


# -- images -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "image", "followed"),
    [
        ("nginx*", "nginx:1.25", True),
        ("nginx", "nginx:1.25", True),
        ("nginx", "nginx", True),
        ("app", "app:latest", True),
        ("nginx:1.25", "nginx:1.25", True),
        ("nginx:1.*", "nginx:1.25", True),
        ("nginx:1.*", "nginx:2.0", False),
        ("nginx", "nginx-proxy:1.0", False),
        ("reg:5000/app", "reg:5000/app:1.2", True),
        ("*/app", "reg:5000/app:1.2", True),
        ("app", "reg:5000/app:1.2", False),
        ("app", "app@sha256:" + "a" * 64, True),
    ],
)
def test_include_images_matches_the_image_with_or_without_its_tag(
    glob: str, image: str, followed: bool
) -> None:
    reason = include(images=(glob,)).reason_to_skip(container(image=image))
    assert reason == (None if followed else "image not included")


def test_exclude_images_skips_a_matching_container_and_says_which_glob() -> None:
    flt = exclude(images=("busybox", "logship/*"))
    skipped = container(image="logship/agent:0.1")
    assert flt.reason_to_skip(skipped) == "image excluded by 'logship/*'"
    assert flt.reason_to_skip(container(image="busybox:1.35")) == "image excluded by 'busybox'"
    assert flt.reason_to_skip(container(image="nginx:1.25")) is None


# -- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "labels", "matches"),
    [
        ("app", {"app": "web"}, True),
        ("app", {"app": ""}, True),
        ("app", {"application": "web"}, False),
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "web-2"}, False),
        ("app=web*", {"app": "web-2"}, True),
        ("app=*", {"app": ""}, True),
        ("app=", {"app": ""}, True),
        ("app=", {"app": "web"}, False),
        ("app=web", {}, False),
        ("com.example.team=pay*", {"com.example.team": "payments"}, True),
        ("url=a=b", {"url": "a=b"}, True),
        ("app=Web", {"app": "web"}, False),
    ],
)
def test_a_label_spec_is_a_key_or_a_key_with_a_glob_value(
    spec: str, labels: dict[str, str], matches: bool
) -> None:
    assert label_matches(spec, labels) is matches


def test_include_labels_follows_containers_with_any_of_the_labels() -> None:
    flt = include(labels=("team=payments", "critical"))
    assert flt.reason_to_skip(container(labels={"team": "payments"})) is None
    assert flt.reason_to_skip(container(labels={"critical": "yes"})) is None
    assert flt.reason_to_skip(container(labels={"team": "search"})) == "labels not included"
    assert flt.reason_to_skip(container()) == "labels not included"


def test_exclude_labels_skips_a_matching_container_and_says_which_spec() -> None:
    flt = exclude(labels=("tier=debug*",))
    reason = flt.reason_to_skip(container(labels={"tier": "debugging"}))
    assert reason == "label excluded by 'tier=debug*'"
    assert flt.reason_to_skip(container(labels={"tier": "web"})) is None


# -- combinations -----------------------------------------------------------------------------


def test_a_container_must_match_every_non_empty_include_list() -> None:
    flt = include(names=("web-*",), images=("nginx*",))
    assert flt.reason_to_skip(container(name="web-1", image="nginx:1.25")) is None
    assert flt.reason_to_skip(container(name="db-1", image="nginx:1.25")) == "name not included"
    assert flt.reason_to_skip(container(name="web-1", image="redis")) == "image not included"


def test_exclude_wins_over_include() -> None:
    flt = ContainerFilter(
        include=Selector(names=("web-*",)), exclude=Selector(names=("web-canary",))
    )
    assert flt.reason_to_skip(container(name="web-1")) is None
    assert flt.reason_to_skip(container(name="web-canary")) == "name excluded by 'web-canary'"


# -- the containers' own opt-outs -------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "yes"])
def test_the_logship_ignore_label_opts_a_container_out(value: str) -> None:
    meta = container(labels={"logship.ignore": value})
    assert (
        ContainerFilter().reason_to_skip(meta) == f"it opts out with label logship.ignore={value}"
    )


@pytest.mark.parametrize("value", ["false", "0", "no", ""])
def test_a_logship_ignore_label_that_is_not_true_changes_nothing(value: str) -> None:
    assert ContainerFilter().reason_to_skip(container(labels={"logship.ignore": value})) is None


@pytest.mark.parametrize("variable", ["LOGSHIP=ignore", "LOGSPOUT=ignore"])
def test_the_ignore_environment_variable_opts_a_container_out(variable: str) -> None:
    meta = container(env=("PATH=/usr/bin", variable))
    assert ContainerFilter().reason_to_skip(meta) == f"it opts out with environment {variable}"


@pytest.mark.parametrize("variable", ["LOGSHIP=other", "LOGSPOUT=", "MY_LOGSHIP=ignore"])
def test_other_environment_values_do_not_opt_out(variable: str) -> None:
    assert ContainerFilter().reason_to_skip(container(env=(variable,))) is None


def test_with_honor_ignore_false_a_container_that_opts_out_is_followed_all_the_same() -> None:
    flt = ContainerFilter(honor_ignore=False)
    for meta in (
        container(labels={"logship.ignore": "true"}),
        container(env=("LOGSHIP=ignore",)),
        container(env=("LOGSPOUT=ignore",)),
    ):
        assert flt.reason_to_skip(meta) is None


def test_with_honor_ignore_false_the_operators_own_exclusions_still_apply() -> None:
    flt = ContainerFilter(exclude=Selector(names=("web-*",)), honor_ignore=False)
    meta = container(name="web-1", labels={"logship.ignore": "true"})
    assert flt.reason_to_skip(meta) == "name excluded by 'web-*'"


def test_opting_out_beats_being_included_by_name() -> None:
    flt = include(names=("web-*",))
    assert flt.reason_to_skip(container(labels={"logship.ignore": "true"})) is not None
    assert flt.reason_to_skip(container(env=("LOGSPOUT=ignore",))) is not None


def test_a_kubernetes_pod_sandbox_is_never_followed_but_its_pods_containers_are() -> None:
    sandbox = {"io.kubernetes.docker.type": "podsandbox", "io.kubernetes.pod.name": "web-0"}
    app = {"io.kubernetes.docker.type": "container", "io.kubernetes.pod.name": "web-0"}
    flt = include(labels=("io.kubernetes.pod.name",))
    assert flt.reason_to_skip(container(labels=sandbox)) == (
        "a Kubernetes pod sandbox (pause container)"
    )
    assert flt.reason_to_skip(container(labels=app)) is None
