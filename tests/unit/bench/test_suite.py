"""``bench/throughput.py --suite``: one command runs a set of scenarios with their sources and
prints their figures next to their targets. Checked here without running anything heavy: the
options it takes, and the table it prints from a run's summaries (run in a subprocess, where
bench/ is on the path as when the benchmark runs)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.helpers.paths import ROOT


def bench(code: str) -> subprocess.CompletedProcess[str]:
    program = "import sys; sys.path.insert(0, 'bench')\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_issue17_suite_runs_every_scenario_with_its_sources_and_tiny_sizes() -> None:
    done = bench(
        """
        import json, throughput
        args = throughput.parse_args(["--suite", "issue17", "--runs", "1", "--lines", "1000",
                                      "--secs", "2"])
        print(json.dumps({
            "no_engine": args.no_engine,
            "scenarios": {s.name: [s.sources(args), s.sink, s.workload(args).total_lines]
                          for s in args.scenarios},
        }))
        """
    )
    assert done.returncode == 0, done.stderr
    parsed = json.loads(done.stdout)
    assert parsed["no_engine"] is True
    assert parsed["scenarios"] == {
        "steady-50": [["docker", "files"], "syslog", 50 * 200],
        "gelf-1": [["docker"], "gelf", 1000],
        "gelf-1-auto": [["docker"], "gelf-auto", 1000],
        "flood-1": [["docker", "files"], "syslog", 1000],
        "flood-4": [["docker", "files"], "syslog", 4000],
        "cri-1": [["cri"], "syslog", 1000],
    }


def test_a_suite_with_scenarios_of_its_own_is_refused() -> None:
    done = bench(
        """
        import throughput
        throughput.parse_args(["--suite", "issue17", "--scenario", "flood-1"])
        """
    )
    assert done.returncode == 2
    assert "--suite chooses its own scenarios" in done.stderr


def test_the_suite_table_puts_each_figure_next_to_its_target_with_the_load() -> None:
    done = bench(
        """
        import throughput
        from report import suite_table

        def row(*values):
            return {"values": list(values), "median": sorted(values)[len(values) // 2],
                    "min": min(values), "max": max(values)}

        results = {
            "steady-50": {"runs": [{}, {}, {}], "summary": {
                "agents.docker.agent_cpu_per_mline": row(6.5, 6.9, 7.4),
                "agents.docker.delay.p99_ms": row(280.0, 300.0, 310.0),
                "agents.docker.loss": row(0, 0, 0),
                "agents.files.agent_cpu_per_mline": row(9.0, 9.5, 9.9),
                "agents.files.delay.p99_ms": row(200.0, 210.0, 220.0),
                "agents.files.loss": row(0, 0, 0),
                "load_1m": row(3.5, 8.25, 12.0),
            }},
        }
        print(suite_table("suite issue17", throughput.SUITES["issue17"], results))
        """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    docker = next(line for line in lines if line.startswith("steady-50 [docker]"))
    files = next(line for line in lines if line.startswith("steady-50 [files]"))
    assert "6.90 (6.50-7.40)" in docker
    assert "300 (280-310)" in docker
    assert "<= 7, p99 < 1 s (#17)" in docker
    assert docker.split()[-4:] == ["yes", "8.2", "(3.5-12.0)", "3"]
    assert "9.50 (9.00-9.90)" in files
    assert " no " in files
    gelf = next(line for line in lines if line.startswith("gelf-1 [docker]"))
    assert "not run" in gelf


def test_the_floor_shipper_is_asked_for_by_name_and_only_where_it_can_send() -> None:
    done = bench(
        """
        import json, throughput
        args = throughput.parse_args(["--scenario", "flood-1,elasticsearch-1",
                                      "--source", "files,floor-threads"])
        print(json.dumps({s.name: s.sources(args) for s in args.scenarios}))
        """
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "flood-1": ["files", "floor-threads"],
        "elasticsearch-1": ["files"],
    }
    refused = bench(
        """
        import throughput
        throughput.parse_args(["--scenario", "console-1", "--source", "floor"])
        """
    )
    assert refused.returncode == 2
    assert "floor and floor-threads: the scenarios with the syslog sink only" in refused.stderr
