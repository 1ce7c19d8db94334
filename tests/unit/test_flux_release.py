"""The program's own table of Flux releases against the checked release matrix
(../shared/upstream/flux/matrix.yaml, sources in MATRIX.md beside it), for every release."""

from __future__ import annotations

import pytest
import yaml

from flux_monitoring.flux.release import (
    CONTROLLER_METRICS_PORT,
    CONTROLLER_POD_LABEL,
    DURATION_BUCKET_LE,
    DURATION_BUCKETS,
    DURATION_THRESHOLDS,
    MINORS,
    NEWEST,
    flux_release,
    format_bound,
)
from tests.support.signals_tools import upstream_file


@pytest.fixture(scope="module")
def matrix() -> dict:
    return yaml.safe_load(upstream_file("flux/matrix.yaml").read_text())


def test_the_table_knows_every_release_of_the_matrix_up_to_the_newest(matrix):
    assert list(MINORS) == sorted(matrix["controllers"]["extra"], key=lambda m: tuple(map(int, m.split("."))))
    newest = matrix["newest_release"].lstrip("v").rsplit(".", 1)[0]
    assert newest == NEWEST


@pytest.mark.parametrize("minor", MINORS)
def test_controllers_default_and_extra(matrix, minor):
    release = flux_release(minor)
    assert list(release.default_controllers) == matrix["controllers"]["default"]
    assert list(release.extra_controllers) == matrix["controllers"]["extra"][minor]


def test_controller_pods_label_and_metrics_port(matrix):
    assert (
        matrix["controllers"]["pod_label"],
        matrix["controllers"]["port_name"],
    ) == (CONTROLLER_POD_LABEL, CONTROLLER_METRICS_PORT)


@pytest.mark.parametrize("minor", MINORS)
def test_kinds_that_exist_with_the_version_kube_state_metrics_must_watch(matrix, minor):
    expected = {
        kind: (facts["group"], facts["controller"], facts["versions"][minor]["storage"])
        for kind, facts in matrix["kinds"].items()
        if minor in facts["versions"]
    }
    assert {k.kind: (k.group, k.controller, k.version) for k in flux_release(minor).kinds} == expected


@pytest.mark.parametrize("minor", MINORS)
def test_the_storage_version_is_served(matrix, minor):
    for k in flux_release(minor).kinds:
        assert k.version in matrix["kinds"][k.kind]["versions"][minor]["served"], k.kind


@pytest.mark.parametrize("minor", MINORS)
def test_kinds_exporting_the_legacy_gauges(matrix, minor):
    expected = matrix["controller_state_metrics"]["kinds_emitting"][minor]
    assert sorted(k.kind for k in flux_release(minor).kinds if k.legacy_gauges) == sorted(expected)
    assert flux_release(minor).exports_legacy_gauges == bool(expected)


@pytest.mark.parametrize("minor", MINORS)
def test_deleted_status(matrix, minor):
    assert flux_release(minor).deleted_status == matrix["controller_state_metrics"]["deleted_status"][minor]


def test_duration_buckets_are_the_controllers_exact_bounds(matrix):
    buckets = matrix["reconcile_duration_buckets"]
    assert buckets["metric"] == "gotk_reconcile_duration_seconds"
    assert [*DURATION_BUCKET_LE, "+Inf"] == buckets["all_2x"]
    assert [format_bound(b) for b in DURATION_BUCKETS] == list(DURATION_BUCKET_LE)
    assert DURATION_BUCKETS[-1] == 1799.9999999999986 < 1800


def test_each_duration_threshold_names_one_bound_as_people_read_it(matrix):
    bounds = [float(le) for le in matrix["reconcile_duration_buckets"]["all_2x"][:-1]]
    assert list(DURATION_THRESHOLDS.values()) == bounds
    assert list(DURATION_THRESHOLDS) == [0.01, 0.03836, 0.1472, 0.5646, 2.166, 8.31, 31.88, 122.3, 469.2, 1800]


def test_pulumi_yaml_defaults_flux_version_to_the_newest_release():
    from tests.support.pulumi_harness import ROOT

    config = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert config["fluxVersion"]["default"] == NEWEST


# -- controller images (../shared/upstream/crds/flux/PROVENANCE.txt, every release v2.0.0 to v2.9.4) --

PROVENANCE_COLUMNS = {
    "SC": "source-controller",
    "KC": "kustomize-controller",
    "HC": "helm-controller",
    "NC": "notification-controller",
    "IRC": "image-reflector-controller",
    "IAC": "image-automation-controller",
    "SW": "source-watcher",
}


def provenance_rows() -> list[tuple[str, dict[str, str]]]:
    """(Flux release, controller -> image tag) of every row of PROVENANCE.txt's image table."""
    lines = upstream_file("crds/flux/PROVENANCE.txt").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Flux | SC |"))
    columns = [c.strip() for c in lines[header].strip("|").split("|")][1:]
    rows = []
    for line in lines[header + 2 :]:
        if not line.startswith("| v2."):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        release = cells[0].split()[0]
        images = {PROVENANCE_COLUMNS[c]: tag for c, tag in zip(columns, cells[1:], strict=True) if tag != "-"}
        rows.append((release, images))
    return rows


def test_the_image_table_covers_every_release_from_2_0_0_to_the_newest():
    releases = [release for release, _ in provenance_rows()]
    assert releases[0] == "v2.0.0" and releases[-1] == "v2.9.4" and len(releases) == 38
    assert {r.lstrip("v").rsplit(".", 1)[0] for r in releases} == set(MINORS)


def test_each_controller_image_tag_of_every_release_belongs_to_its_flux_minor_line():
    for release, images in provenance_rows():
        minor = release.lstrip("v").rsplit(".", 1)[0]
        lines = flux_release(minor).controller_lines()
        assert {c: tag.lstrip("v").rsplit(".", 1)[0] for c, tag in images.items()} == lines, release


def test_no_controller_line_belongs_to_two_flux_minors():
    for controller in flux_release(NEWEST).controllers:
        shipped = [
            flux_release(m).controller_lines()[controller] for m in MINORS if controller in flux_release(m).controllers
        ]
        assert len(shipped) == len(set(shipped)), controller
