"""A reload (``SIGHUP``): the configuration read again from the sources it came from at start
(the command line as given, the ``--config`` file, the environment), checked whole, compared
with the running one, and what changed built complete for the agent to apply
(:meth:`logship.agent.Agent.reload`).

What a reload changes, and what it keeps:

- a destination whose options are all the same keeps running untouched (buffer, spool,
  connection, checkpoint);
- one that is gone is drained as at shutdown, then forgotten by the checkpoints;
- one that is new starts with the lines read from now on (as a new destination does at a
  start with a state directory: it gets nothing read before it);
- one whose options changed under the same ``name`` is the old one drained, then the new one
  started; the lines read meanwhile wait in the new one's buffer, so none is lost or sent
  twice, and their order holds;
- the global ``multiline``, ``parse`` and ``buffer`` settings apply to the lines read after the
  reload (a ``buffer`` change is a change of the destinations that take their bound from it);
  ``log_level`` at once;
- every other setting is where reading happens (source, engine, state directory, selection,
  HTTP): a change of one is logged as needing a restart, and the running value kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from logship.agent import Reconfiguration, Replacement
from logship.config.destination import DestinationConfig
from logship.errors import ConfigError
from logship.pipeline.destination import Destination
from logship.settings import Settings
from logship.sinks.base import SinkContext
from logship.sinks.console.config import ConsoleConfig
from logship.sinks.registry import build_sink
from logship.transform.multiline import MultilineStage, stage_of
from logship.transform.parse import ParseStage

log = logging.getLogger("logship")

# the settings a reload applies; any other one changed needs a restart
RELOADABLE = frozenset({"destinations", "buffer", "multiline", "parse", "log_level"})


@dataclass(frozen=True)
class Spec:
    """One destination as the settings make it: its options, and what it takes of the global
    settings (its buffer's bounds, whether containers may opt out of it, its spool)."""

    config: DestinationConfig
    max_records: int
    max_bytes: int
    honor_opt_outs: bool
    spool_dir: Path | None

    def build(self, context: SinkContext | None = None) -> Destination:
        """The destination, complete; its spool not opened yet."""
        return Destination.from_config(
            build_sink(self.config, context),
            self.config,
            max_records=self.max_records,
            max_bytes=self.max_bytes,
            spool_dir=self.spool_dir,
            honor_opt_outs=self.honor_opt_outs,
        )


@dataclass(frozen=True)
class Diff:
    """How a new list of destinations relates to the running one, by index into each."""

    kept: list[tuple[int, int]]  # (running, new): the very same options
    changed: list[tuple[int, int]]  # (running, new): the same name, other options
    removed: list[int]  # running ones with no counterpart
    added: list[int]  # new ones with no counterpart

    def summary(self) -> str:
        if not (self.changed or self.removed or self.added):
            return "unchanged"
        return f"added {len(self.added)}, removed {len(self.removed)}, changed {len(self.changed)}"


def diff(running: Sequence[Spec], new: Sequence[Spec]) -> Diff:
    """Pair each new destination with a running one: the same options first (the first one
    not yet paired, so a destination listed twice stays two), then the same ``name`` or the
    same disk spool (whose key stays while the options that deliver do). A destination with
    neither whose options changed is removed and added: its options are all there is to know
    it by."""
    free = list(range(len(running)))
    kept, changed, unpaired = [], [], []
    for j, spec in enumerate(new):
        i = next((i for i in free if running[i] == spec), None)
        if i is None:
            unpaired.append(j)
        else:
            free.remove(i)
            kept.append((i, j))
    added = []
    for j in unpaired:
        i = next((i for i in free if _same_one(running[i], new[j])), None)
        if i is None:
            added.append(j)
        else:
            free.remove(i)
            changed.append((i, j))
    return Diff(kept=kept, changed=changed, removed=free, added=added)


def _same_one(running: Spec, new: Spec) -> bool:
    name, spool = new.config.name, new.spool_dir
    return (name is not None and running.config.name == name) or (
        spool is not None and running.spool_dir == spool
    )


def needs_restart(running: Settings, new: Settings) -> list[str]:
    """The settings that differ and that a reload does not apply."""
    return [
        name
        for name in type(running).model_fields
        if name not in RELOADABLE and getattr(running, name) != getattr(new, name)
    ]


def specs(settings: Settings) -> list[Spec]:
    """Each destination the settings configure (the console if none)."""
    configs: list[DestinationConfig] = list(settings.destinations) or [ConsoleConfig()]
    state_dir = settings.state_dir
    dirs = spool_dirs(configs, state_dir) if state_dir is not None else [None] * len(configs)
    return [
        Spec(
            config,
            max_records=settings.buffer.max_records,
            max_bytes=settings.buffer.max_bytes,
            honor_opt_outs=settings.honor_ignore,
            spool_dir=spool_dir,
        )
        for config, spool_dir in zip(configs, dirs, strict=True)
    ]


def spool_dirs(configs: list[DestinationConfig], state_dir: Path) -> list[Path | None]:
    """Each destination's disk spool directory, ``<state_dir>/spool/<key>/`` (None: no spool);
    the same destination twice gets a spool each. A spool directory no destination uses any
    more is reported, never deleted."""
    spools = state_dir / "spool"
    keys: set[str] = set()
    dirs: list[Path | None] = []
    for config in configs:
        if not config.spool.enabled:
            dirs.append(None)
            continue
        key = base = config.spool_key()
        n = 1
        while key in keys:
            n += 1
            key = f"{base}-{n}"
        keys.add(key)
        dirs.append(spools / key)
    if spools.is_dir():
        for orphan in sorted(p for p in spools.iterdir() if p.name not in keys):
            if any(orphan.glob("*.seg")):
                log.warning(
                    "disk spool %s belongs to no destination configured now; what it holds is "
                    "not sent (give a destination a name to keep its spool across changes of "
                    "its options)",
                    orphan,
                )
    return dirs


class Reconfigurator:
    """Knows the running configuration, and makes a reload's :class:`Reconfiguration` of the
    settings ``load`` reads now (``load`` reads them as ``logship run`` did at start).

    ``running`` are the destinations built from ``settings`` (:func:`specs`, in order), and
    ``stage`` and ``parse`` the router's stages, ``context`` what every sink is built with."""

    def __init__(
        self,
        load: Callable[[], Settings],
        settings: Settings,
        running: Sequence[Destination],
        *,
        stage: MultilineStage | None,
        parse: ParseStage | None,
        context: SinkContext | None = None,
    ) -> None:
        self._load = load
        self._context = context
        self._settings = settings
        self._specs = specs(settings)
        self._running = list(running)
        self._stage = stage
        self._parse = parse
        if len(self._specs) != len(self._running):
            raise ValueError("one running destination per configured one")

    def prepare(self) -> Reconfiguration:
        """The settings read and checked again, and what differs built (the new
        destinations' spools opened where no running destination holds them);
        :class:`ConfigError` naming the field if they cannot be used. Nothing running is
        touched."""
        settings = self._load()
        for name in needs_restart(self._settings, settings):
            log.warning("reload: %s changed; it needs a restart (the running value is kept)", name)
        new_specs = specs(settings)
        found = diff(self._specs, new_specs)
        context = self._context
        built: dict[int, Destination] = {j: new_specs[j].build(context) for j in found.added}
        built.update((j, new_specs[j].build(context)) for _, j in found.changed)
        # in the order of the new configuration
        by_index = {j: self._running[i] for i, j in found.kept} | built
        destinations = [by_index[j] for j in range(len(new_specs))]
        replacements = []
        for i, j in found.changed:
            # the same spool directory: the new one opens it once the old one parked in it
            later = new_specs[j].spool_dir is not None and new_specs[j].spool_dir in {
                s.spool_dir for s in self._specs
            }
            replacements.append(Replacement(self._running[i], built[j], open_spool=later))
        opened: list[Destination] = []
        try:
            for destination in [built[j] for j in found.added] + [
                r.new for r in replacements if not r.open_spool
            ]:
                destination.open_spool()  # ConfigError naming the directory
                opened.append(destination)
        except ConfigError:
            for destination in opened:
                destination.park()  # never ran, holds nothing: closes its spool
            raise
        for name, warning in _warnings(found, new_specs):
            log.warning("reload: destination %s: %s", name, warning)
        multiline_same = settings.multiline == self._settings.multiline
        parse_same = settings.parse == self._settings.parse
        return Reconfiguration(
            destinations=destinations,
            added=[built[j] for j in found.added],
            replacements=replacements,
            removed=[self._running[i] for i in found.removed],
            stage=self._stage if multiline_same else stage_of(settings.multiline),
            parse=self._parse if parse_same else ParseStage(settings.parse),
            summary=found.summary(),
            commit=lambda: self._applied(settings, new_specs, destinations),
        )

    def _applied(
        self, settings: Settings, new_specs: list[Spec], destinations: list[Destination]
    ) -> None:
        """The agent runs the new configuration: it is the running one from now on."""
        if settings.log_level != self._settings.log_level:
            logging.getLogger().setLevel(settings.log_level.upper())
        self._settings = settings
        self._specs = new_specs
        self._running = list(destinations)


def _warnings(found: Diff, new: list[Spec]) -> list[tuple[str, str]]:
    """What a new or changed destination exposes (as logged at start for every one)."""
    fresh = set(found.added) | {j for _, j in found.changed}
    return [
        (new[j].config.describe(), warning)
        for j in sorted(fresh)
        for warning in new[j].config.security_warnings()
    ]
