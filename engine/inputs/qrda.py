"""QRDA Category III documents (the XML many EHRs submit) → the same QPP JSON submission.

A QRDA III document is read into exactly the dict a QPP JSON submission is, and that dict goes
through `parse_submission`, so every check of the JSON path applies. The mapping is CMS's:

- CMS's QRDA Category III Implementation Guide for Eligible Clinicians (2023–2026 editions) defines
  the document; CMS's conversion tool (CMSgov/qpp-conversion-tool, the converter behind the QPP
  Submissions API's QRDA III upload) defines how it becomes QPP JSON. The identifiers read here are
  the tool's (`converter/src/main/resources/pathing/path-correlation.json`, its
  `ClinicalDocumentDecoder` and `Constants`, and the IG's identifier OIDs):
  program and entity type from `informationRecipient/intendedRecipient/id[@root='2.16.840.1.113883.3.249.7']/@extension`
  (MIPS_INDIV, MIPS_GROUP, MIPS_VIRTUALGROUP, MIPS_APMENTITY, MIPS_SUBGROUP, MIPS_APP1_INDIV/GROUP/APMENTITY,
  APP_PLUS_INDIV/GROUP/APMENTITY); NPI `…performer/assignedEntity/id[@root='2.16.840.1.113883.4.6']`; TIN
  `…/representedOrganization/id[@root='2.16.840.1.113883.4.2']`; virtual group, APM Entity and subgroup IDs
  `…/representedOrganization/id[@root='2.16.840.1.113883.3.249.5.2' | '….5.4' | '….5.5']`; the CEHRT ID
  `participant/associatedEntity/id[@root='2.16.840.1.113883.3.2074.1']` (on the PI set, as the tool puts it);
  the MVP ID `participant/associatedEntity/id[@root="2.16.840.1.113883.3.249.5.6"]` (every set's programName).
- Sections by template: measure section 2.16.840.1.113883.10.20.27.2.3 (quality, submitted as
  `electronicHealthRecord`), PI 2.16.840.1.113883.10.20.27.2.5, IA 2.16.840.1.113883.10.20.27.2.4; each
  set's performanceStart/End from its Reporting Parameters Act (2.16.840.1.113883.10.20.17.3.8), the
  performanceYear from the first one (ClinicalDocumentEncoder, ReportingParametersActDecoder).
- Quality (QualityMeasureIdDecoder/Encoder, MeasureDataDecoder, AggregateCountDecoder): the measure from
  `reference/externalDocument/id[@root='2.16.840.1.113883.4.738']/@extension` — the eCQM's version-specific
  UUID, looked up (case-insensitively) in the year's `ecqm.measures` table (imported from CMS's
  measures-data.json); each Measure Data observation's population from its `value/@code`
  (IPOP/IPP, DENOM, NUMER, DENEX, DENEXCEP) and its count from its Aggregate Count
  (`entryRelationship[@typeCode='SUBJ']/observation[templateId 2.16.840.1.113883.10.20.27.3.3]/value/@value`).
  performanceMet = NUMER, eligiblePopulation = DENOM, eligiblePopulationExclusion = DENEX,
  eligiblePopulationException = DENEXCEP, performanceNotMet = DENOM − NUMER − DENEX − DENEXCEP,
  isEndToEndReported = true. A multi-performance-rate measure's populations are grouped into its
  strata by their population UUIDs (`reference/externalObservation/id/@root`), each stratum named as
  CMS's inventory names it; a single-rate measure takes the first population of each kind, except the
  measures the year's `qrda.sum_population_sets` names (438), whose population sets are added up.
- PI (PiNumeratorDenominatorDecoder, PiMeasurePerformedRnRDecoder): the measure ID from
  `reference/externalDocument/id/@extension`; numerator/denominator from the aggregate counts of the
  Numerator (2.16.840.1.113883.10.20.27.3.31) and Denominator (….3.32) observations, or true/false
  from a Measure Performed observation (….3.27, `value/@code` Y or N). IA (IaMeasureDecoder): the
  activity ID and its Measure Performed Y/N as true/false.

The XML is untrusted. It is parsed with the standard library's expat directly, refusing any DOCTYPE
(so no DTD, no entity declarations, no external entities, no entity expansion), with limits on the
size (MAX_BYTES), the number of elements and their depth; every problem is an InputError naming the
file, the line and the element's path (`file.xml:165: /ClinicalDocument/component/…/organizer: …`).
Where CMS's tool would only log or silently drop something (an unknown population UUID of a
multi-rate measure, a second section of a kind, a stratum without data), this reader refuses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterator
from xml.parsers import expat

from mips_rules.engine.inputs.qrda_detect import is_qrda_file, looks_like_xml  # noqa: F401 - part of this API
from mips_rules.dsl.errors import Diagnostic, InputError, Location

MAX_BYTES = 50 * 1024 * 1024
"""A QRDA III file larger than this is refused before it is read (CMS's own files are well under 1 MB)."""
MAX_ELEMENTS = 1_000_000
MAX_DEPTH = 100

HL7 = "urn:hl7-org:v3"
_SEP = "\x7f"  # between a namespace URI and a local name (expat's namespace_separator)

QRDA_III_REPORT = "2.16.840.1.113883.10.20.27.1.1"
PROGRAM_OID = "2.16.840.1.113883.3.249.7"
NPI_OID = "2.16.840.1.113883.4.6"
TIN_OID = "2.16.840.1.113883.4.2"
VIRTUAL_GROUP_OID = "2.16.840.1.113883.3.249.5.2"
APM_ENTITY_OID = "2.16.840.1.113883.3.249.5.4"
SUBGROUP_OID = "2.16.840.1.113883.3.249.5.5"
MVP_OID = "2.16.840.1.113883.3.249.5.6"
CEHRT_OID = "2.16.840.1.113883.3.2074.1"
ECQM_OID = "2.16.840.1.113883.4.738"

MEASURE_SECTION = "2.16.840.1.113883.10.20.27.2.3"
PI_SECTION = "2.16.840.1.113883.10.20.27.2.5"
IA_SECTION = "2.16.840.1.113883.10.20.27.2.4"
SECTIONS = {MEASURE_SECTION: "quality", PI_SECTION: "pi", IA_SECTION: "ia"}
REPORTING_PARAMETERS_ACT = "2.16.840.1.113883.10.20.17.3.8"
MEASURE_REFERENCE = ("2.16.840.1.113883.10.20.27.3.1", "2.16.840.1.113883.10.20.27.3.17")
MEASURE_DATA = ("2.16.840.1.113883.10.20.27.3.5", "2.16.840.1.113883.10.20.27.3.16")
AGGREGATE_COUNT = "2.16.840.1.113883.10.20.27.3.3"
PI_NUMERATOR_DENOMINATOR = "2.16.840.1.113883.10.20.27.3.28"
PI_MEASURE_PERFORMED_RNR = "2.16.840.1.113883.10.20.27.3.29"
PI_NUMERATOR = "2.16.840.1.113883.10.20.27.3.31"
PI_DENOMINATOR = "2.16.840.1.113883.10.20.27.3.32"
MEASURE_PERFORMED = "2.16.840.1.113883.10.20.27.3.27"
IA_MEASURE = "2.16.840.1.113883.10.20.27.3.33"

PROGRAMS: dict[str, tuple[str, str]] = {
    "MIPS": ("mips", "individual"),
    "MIPS_INDIV": ("mips", "individual"),
    "MIPS_GROUP": ("mips", "group"),
    "MIPS_VIRTUALGROUP": ("mips", "virtualGroup"),
    "MIPS_APMENTITY": ("mips", "apm"),
    "MIPS_SUBGROUP": ("mips", "subgroup"),
    "MIPS_APP1_INDIV": ("app1", "individual"),
    "MIPS_APP1_GROUP": ("app1", "group"),
    "MIPS_APP1_APMENTITY": ("app1", "apm"),
    "APP_PLUS_INDIV": ("app_plus", "individual"),
    "APP_PLUS_GROUP": ("app_plus", "group"),
    "APP_PLUS_APMENTITY": ("app_plus", "apm"),
}
"""informationRecipient program → (programName, entityType), as the conversion tool's
ClinicalDocumentDecoder maps them (its `appPlus` is this engine's `app_plus`)."""

NOT_SCORED_PROGRAMS = {"CPCPLUS": "CPC+", "PCF": "Primary Care First", "SSP_PI_INDIV": "the Shared Savings Program's PI",
                       "SSP_PI_GROUP": "the Shared Savings Program's PI", "SSP_PI_APMENTITY": "the Shared Savings Program's PI"}

POPULATIONS = {"IPOP": "IPOP", "IPP": "IPOP", "DENOM": "DENOM", "NUMER": "NUMER", "DENEX": "DENEX",
               "DENEXCEP": "DENEXCEP", "NUMEX": "NUMEX"}
"""Measure Data `value/@code` → population kind (the tool's SubPopulationLabel aliases)."""
POPULATION_UUID_FIELDS = {"IPOP": "initial_population_uuid", "DENOM": "denominator_uuid", "NUMER": "numerator_uuid",
                          "DENEX": "denominator_exclusion_uuid", "DENEXCEP": "denominator_exception_uuid",
                          "NUMEX": "numerator_exclusion_uuid"}


# ---------------------------------------------------------------------------
# A hardened XML reader that keeps line numbers
# ---------------------------------------------------------------------------

@dataclass(eq=False)
class Node:
    """One XML element: local name, namespace, attributes (unqualified by local name), position."""

    name: str
    ns: str
    attrs: dict[str, str]
    line: int
    column: int
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)

    def kids(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name and c.ns == HL7]

    def kid(self, name: str) -> Node | None:
        return next(iter(self.kids(name)), None)

    def walk(self, *names: str) -> Iterator[Node]:
        """The descendants reached by this chain of child names (every branch)."""
        nodes = [self]
        for name in names:
            nodes = [k for n in nodes for k in n.kids(name)]
        return iter(nodes)

    def templates(self) -> set[str]:
        return {t.attrs.get("root", "") for t in self.kids("templateId")}

    def ids(self, root: str, *names: str) -> list[Node]:
        """`id` elements with this root under the chain of child names."""
        return [i for n in self.walk(*names) for i in n.kids("id") if i.attrs.get("root", "").strip() == root]

    @property
    def path(self) -> str:
        parts = []
        node: Node | None = self
        while node is not None:
            step = node.name
            if node.parent is not None:
                same = [c for c in node.parent.children if c.name == node.name]
                if len(same) > 1:
                    step += f"[{same.index(node) + 1}]"
            parts.append(step)
            node = node.parent
        return "/" + "/".join(reversed(parts))


class _Refused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _error(source: str, message: str, node: Node | None = None, *, line: int | None = None,
           column: int = 1, hint: str | None = None) -> InputError:
    if node is not None:
        line, column = node.line, node.column
        message = f"{node.path}: {message}"
    where = f"{source}:{line}: " if line is not None else f"{source}: "
    location = Location(source, line, column) if line is not None and Path(source).is_file() else None
    return InputError(Diagnostic(where + message, location=location, hint=hint))


def parse_xml(data: bytes | str, source: str = "<qrda>") -> Node:
    """The document's element tree, or an InputError: refuses DOCTYPEs (and so any DTD, entity
    declaration, external entity or entity expansion), documents over MAX_BYTES, more than
    MAX_ELEMENTS elements or nesting deeper than MAX_DEPTH."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size > MAX_BYTES:
        raise _error(source, f"the document is {size} bytes; a QRDA III document may have at most {MAX_BYTES}")
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[Node] = []
    root: list[Node] = []
    count = 0

    def refuse(what: str) -> Any:
        def handler(*_: Any) -> Any:
            raise _Refused(what)
        return handler

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise _Refused(f"more than {MAX_ELEMENTS} elements")
        if len(stack) >= MAX_DEPTH:
            raise _Refused(f"elements nested more than {MAX_DEPTH} deep")
        ns, _, local = name.rpartition(_SEP)
        plain = {}
        for key, value in attrs.items():
            kns, _, klocal = key.rpartition(_SEP)
            plain[klocal if not kns else f"{{{kns}}}{klocal}"] = value
        node = Node(local, ns, plain, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1,
                    stack[-1] if stack else None)
        if stack:
            stack[-1].children.append(node)
        else:
            root.append(node)
        stack.append(node)

    def end(_: str) -> None:
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = refuse("a DOCTYPE is not allowed in a QRDA document "
                                            "(no DTD, no entity declarations, no external entities)")
    parser.EntityDeclHandler = refuse("entity declarations are not allowed in a QRDA document")
    parser.UnparsedEntityDeclHandler = refuse("entity declarations are not allowed in a QRDA document")
    parser.NotationDeclHandler = refuse("notation declarations are not allowed in a QRDA document")
    parser.ExternalEntityRefHandler = refuse("external entities are not allowed in a QRDA document")
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise _error(source, exc.message, line=parser.CurrentLineNumber,
                     column=parser.CurrentColumnNumber + 1) from None
    except expat.ExpatError as exc:
        raise _error(source, f"not well-formed XML: {expat.ErrorString(exc.code)}", line=exc.lineno,
                     column=exc.offset + 1) from None
    except RecursionError:
        raise _error(source, "the document is nested too deeply") from None
    if not root:
        raise _error(source, "no XML element found")
    return root[0]


# ---------------------------------------------------------------------------
# The document: header, sections, entries (no year data needed yet)
# ---------------------------------------------------------------------------

@dataclass
class Section:
    category: str
    node: Node
    start: date
    end: date
    entries: list[Node]


@dataclass
class QrdaDocument:
    """A QRDA III document read as far as it can be without a year's data."""

    source: str
    root: Node
    program: str
    entity_type: str
    header: dict[str, Any]
    header_nodes: dict[str, Node]
    cehrt_id: str | None
    mvp_id: str | None
    sections: list[Section]

    @property
    def performance_year(self) -> int:
        """The year of the first Reporting Parameters Act (as the conversion tool takes it)."""
        return self.sections[0].start.year

    # -- the year's data -------------------------------------------------------------------

    def to_qpp(self, year: Any) -> tuple[dict[str, Any], dict[str, Node]]:
        """The QPP JSON dict, with the XML element behind each JSON path (for error messages)."""
        if int(year.performance_year) != self.performance_year:
            raise _error(self.source, f"the document reports performance year {self.performance_year} "
                                      f"(its reporting parameters); these are the {year.performance_year} rules",
                         self.sections[0].node)
        namespaces = year.namespaces()
        ecqm = (namespaces.get("ecqm") or {}).get("measures")
        summed = {str(m) for m in (namespaces.get("qrda") or {}).get("sum_population_sets") or ()}
        where: dict[str, Node] = dict(self.header_nodes)
        sets = []
        for i, section in enumerate(self.sections):
            program = self.mvp_id or self.program  # an MVP document: each of its sets reports the MVP
            measurements = []
            for j, entry in enumerate(section.entries):
                where[f"measurementSets[{i}].measurements[{j}]"] = entry
                if section.category == "quality":
                    measurements.append(self._quality(entry, ecqm, summed, year))
                elif section.category == "pi":
                    measurements.append(self._pi(entry))
                else:
                    measurements.append(self._ia(entry))
            self._no_repeats(section, measurements)
            where[f"measurementSets[{i}]"] = section.node
            ms: dict[str, Any] = {"category": section.category, "submissionMethod": "electronicHealthRecord",
                                  "measurements": measurements, "programName": program,
                                  "performanceStart": section.start.isoformat(),
                                  "performanceEnd": section.end.isoformat(), "source": "qrda3"}
            if section.category == "pi" and self.cehrt_id is not None:
                ms["cehrtId"] = self.cehrt_id
            sets.append(ms)
        submission = {"performanceYear": self.performance_year, "entityType": self.entity_type, **self.header,
                      "measurementSets": sets}
        return submission, where

    def submission(self, year: Any) -> Any:
        """The validated Submission (every QPP JSON check applies); errors name the XML element and line."""
        from mips_rules.engine.inputs.submission import parse_submission

        data, where = self.to_qpp(year)
        try:
            return parse_submission(data, source=self.source)
        except InputError as exc:
            raise InputError([self._located(d, where) for d in exc.diagnostics]) from None

    def _located(self, d: Diagnostic, where: dict[str, Node]) -> Diagnostic:
        head = f"{self.source}: "
        if not d.message.startswith(head):
            return d
        rest = d.message[len(head):]
        best = max((k for k in where if rest.startswith(k) and rest[len(k):len(k) + 1] in (".", ":", "[")),
                   key=len, default=None)
        node = where.get(best) if best is not None else self.root
        return _error(self.source, rest, node, hint=d.hint).diagnostics[0]

    def _no_repeats(self, section: Section, measurements: list[dict[str, Any]]) -> None:
        seen: dict[str, Node] = {}
        for entry, m in zip(section.entries, measurements):
            first = seen.setdefault(m["measureId"], entry)
            if first is not entry:
                raise _error(self.source, f"{m['measureId']} is reported twice in this section "
                                          f"(first at line {first.line})", entry)

    # -- entries ------------------------------------------------------------------------------

    def _quality(self, organizer: Node, ecqm: Any, summed: set[str], year: Any) -> dict[str, Any]:
        ids = organizer.ids(ECQM_OID, "reference", "externalDocument")
        if len(ids) != 1:
            raise _error(self.source, "a measure entry needs one reference/externalDocument/id with root "
                                      f"{ECQM_OID} (the eCQM's version-specific UUID), found {len(ids)}", organizer)
        uuid = (ids[0].attrs.get("extension") or "").strip().lower()
        row = ecqm.get(uuid) if ecqm is not None and uuid else None
        if row is None:
            empty = ecqm is None or not ecqm.rows
            hint = (f"the {year.performance_year} data lists no eCQM UUIDs (CMS's measures-data.json for "
                    f"{year.performance_year} has none)" if empty else
                    "the UUID names one version of an eCQM; CMS lists each year's in measures-data.json")
            raise _error(self.source, f"unknown eCQM UUID {ids[0].attrs.get('extension')!r}: no eCQM of "
                                      f"{year.performance_year} has it", ids[0], hint=hint)
        measure_id = str(row["measure_id"])
        label = f"measure {measure_id} ({row.get('e_measure_id') or uuid})"
        populations = [self._population(obs, label) for comp in organizer.kids("component")
                       for obs in comp.kids("observation") if obs.templates() & set(MEASURE_DATA)]
        if row["metric_type"] == "multiPerformanceRate":
            value = self._multi_rate(organizer, row, populations, label)
        else:
            value = self._single_rate(organizer, populations, label, sum_all=measure_id in summed)
        return {"measureId": measure_id, "value": value}

    def _population(self, obs: Node, label: str) -> tuple[str, str | None, int, Node]:
        value = obs.kid("value")
        code = (value.attrs.get("code") or "").strip().upper() if value is not None else ""
        kind = POPULATIONS.get(code)
        if kind is None:
            raise _error(self.source, f"{label}: a Measure Data observation needs value/@code IPOP, DENOM, NUMER, "
                                      f"DENEX or DENEXCEP, got {code or 'none'!r}", value or obs)
        refs = [i.attrs.get("root", "").strip().lower() for i in obs.walk("reference", "externalObservation", "id")]
        return kind, (refs[0] if refs else None), self._count(obs, f"{label}: {code}"), obs

    def _count(self, obs: Node, label: str) -> int:
        counts = [o for er in obs.kids("entryRelationship") if er.attrs.get("typeCode") == "SUBJ"
                  for o in er.kids("observation") if AGGREGATE_COUNT in o.templates()]
        if len(counts) != 1:
            raise _error(self.source, f"{label}: needs exactly one Aggregate Count (entryRelationship[@typeCode='SUBJ']"
                                      f"/observation with templateId {AGGREGATE_COUNT}), found {len(counts)}", obs)
        value = counts[0].kid("value")
        text = (value.attrs.get("value") or "").strip() if value is not None else ""
        if not re.fullmatch(r"\d{1,12}", text):
            raise _error(self.source, f"{label}: the aggregate count must be a whole number of 0 or more, "
                                      f"got {text or 'none'!r}", value or counts[0])
        return int(text)

    def _rate(self, organizer: Node, counts: dict[str, int], label: str) -> dict[str, Any]:
        for needed in ("DENOM", "NUMER"):
            if needed not in counts:
                raise _error(self.source, f"{label}: no {needed} population (Measure Data with value/@code "
                                          f"{needed})", organizer)
        not_met = counts["DENOM"] - counts["NUMER"] - counts.get("DENEX", 0) - counts.get("DENEXCEP", 0)
        if not_met < 0:
            raise _error(self.source, f"{label}: DENOM {counts['DENOM']} is less than NUMER + DENEX + DENEXCEP "
                                      f"({counts['DENOM'] - not_met})", organizer)
        value: dict[str, Any] = {"isEndToEndReported": True, "performanceMet": counts["NUMER"],
                                 "performanceNotMet": not_met, "eligiblePopulation": counts["DENOM"]}
        if "DENEX" in counts:
            value["eligiblePopulationExclusion"] = counts["DENEX"]
        if "DENEXCEP" in counts:
            value["eligiblePopulationException"] = counts["DENEXCEP"]
        return value

    def _single_rate(self, organizer: Node, populations: list[tuple[str, str | None, int, Node]], label: str, *,
                     sum_all: bool) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for kind, _, count, _ in populations:
            if sum_all:
                counts[kind] = counts.get(kind, 0) + count
            else:
                counts.setdefault(kind, count)  # the first of each kind, in document order
        return self._rate(organizer, counts, label)

    def _multi_rate(self, organizer: Node, row: dict[str, Any], populations: list[tuple[str, str | None, int, Node]],
                    label: str) -> dict[str, Any]:
        strata = list(row["strata"])
        index: dict[str, tuple[int, str]] = {}
        for k, stratum in enumerate(strata):
            for kind, fname in POPULATION_UUID_FIELDS.items():
                if stratum.get(fname):
                    index[str(stratum[fname]).lower()] = (k, kind)
        grouped: list[dict[str, int]] = [{} for _ in strata]
        for kind, uuid, count, obs in populations:
            hit = index.get(uuid or "")
            if hit is None:
                raise _error(self.source, f"{label}: population UUID {uuid!r} ({kind}) is not one of the measure's "
                                          "performance rates", obs)
            if hit[1] != kind:
                raise _error(self.source, f"{label}: population UUID {uuid!r} is the measure's {hit[1]}, "
                                          f"not {kind}", obs)
            if kind in grouped[hit[0]]:
                raise _error(self.source, f"{label}: {kind} of {uuid!r} is reported twice", obs)
            grouped[hit[0]][kind] = count
        out = []
        for k, (stratum, counts) in enumerate(zip(strata, grouped)):
            name = stratum.get("name") or str(stratum["numerator_uuid"]).upper()
            if not counts:
                raise _error(self.source, f"{label}: performance rate {name!r} has no data "
                                          f"(numerator UUID {stratum['numerator_uuid']})", organizer)
            out.append({"stratum": name, **self._rate(organizer, counts, f"{label}, stratum {name}")})
        return {"isEndToEndReported": True, "strata": out}

    def _measure_id(self, organizer: Node, what: str) -> str:
        ids = [i for i in organizer.walk("reference", "externalDocument", "id") if i.attrs.get("extension")]
        if len(ids) != 1:
            raise _error(self.source, f"a {what} entry needs one reference/externalDocument/id with the "
                                      f"measure's ID as its extension, found {len(ids)}", organizer)
        return ids[0].attrs["extension"].strip()

    def _performed(self, organizer: Node, measure: str) -> bool:
        obs = [o for c in organizer.kids("component") for o in c.kids("observation")
               if MEASURE_PERFORMED in o.templates()]
        if len(obs) != 1:
            raise _error(self.source, f"{measure}: needs exactly one Measure Performed observation (templateId "
                                      f"{MEASURE_PERFORMED}), found {len(obs)}", organizer)
        value = obs[0].kid("value")
        code = (value.attrs.get("code") or "").strip().upper() if value is not None else ""
        if code not in ("Y", "N"):
            raise _error(self.source, f"{measure}: Measure Performed must be Y or N (value/@code), "
                                      f"got {code or 'none'!r}", value or obs[0])
        return code == "Y"

    def _pi(self, organizer: Node) -> dict[str, Any]:
        measure = self._measure_id(organizer, "Promoting Interoperability")
        if PI_MEASURE_PERFORMED_RNR in organizer.templates():
            return {"measureId": measure, "value": self._performed(organizer, measure)}
        counts = {}
        for tid, name in ((PI_NUMERATOR, "numerator"), (PI_DENOMINATOR, "denominator")):
            obs = [o for c in organizer.kids("component") for o in c.kids("observation") if tid in o.templates()]
            if len(obs) != 1:
                raise _error(self.source, f"{measure}: needs exactly one {name} observation (templateId {tid}), "
                                          f"found {len(obs)}", organizer)
            counts[name] = self._count(obs[0], f"{measure}: {name}")
        return {"measureId": measure, "value": counts}

    def _ia(self, organizer: Node) -> dict[str, Any]:
        measure = self._measure_id(organizer, "improvement activity")
        return {"measureId": measure, "value": self._performed(organizer, measure)}


# ---------------------------------------------------------------------------
# Reading a document
# ---------------------------------------------------------------------------

def _hl7_date(node: Node, attr_owner: Node | None, what: str, source: str) -> date:
    text = (attr_owner.attrs.get("value") or "").strip() if attr_owner is not None else ""
    if not re.fullmatch(r"\d{8}(\d{0,6})?([.]\d+)?([+-]\d{4})?", text):
        raise _error(source, f"{what}: expected a date as YYYYMMDD in @value, got {text or 'none'!r}",
                     attr_owner or node)
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise _error(source, f"{what}: {text!r} is not a real date", attr_owner or node) from None


def _one_value(nodes: list[Node], what: str, source: str) -> tuple[str, Node] | None:
    values: dict[str, Node] = {}
    for n in nodes:
        v = (n.attrs.get("extension") or "").strip()
        if v:
            values.setdefault(v, n)
    if len(values) > 1:
        first, second = list(values.items())[:2]
        raise _error(source, f"a second {what} {second[0]!r} (the first, {first[0]!r}, is at line {first[1].line}); "
                             "this entity type has one", second[1])
    return next(iter(values.items()), None)


def read_qrda(data: bytes | str, source: str = "<qrda>") -> QrdaDocument:
    """Parse and read a QRDA III document's header and sections (no year's data needed)."""
    root = parse_xml(data, source)
    if root.name != "ClinicalDocument" or root.ns != HL7:
        found = f"{{{root.ns}}}{root.name}" if root.ns else root.name
        raise _error(source, f"expected a QRDA Category III document (<ClinicalDocument xmlns=\"{HL7}\">), "
                             f"found <{found}>", root)
    if QRDA_III_REPORT not in root.templates():
        raise _error(source, f"not a QRDA Category III report: no templateId {QRDA_III_REPORT}", root)
    # Program and entity type
    recipients = root.ids(PROGRAM_OID, "informationRecipient", "intendedRecipient")
    found = _one_value(recipients, "program (informationRecipient)", source)
    if found is None:
        raise _error(source, "no program: informationRecipient/intendedRecipient/id with root "
                             f"{PROGRAM_OID} and the program as its extension (MIPS_INDIV, MIPS_GROUP, MIPS_APP1_INDIV …)",
                     root.kid("informationRecipient") or root)
    raw_program, program_node = found
    key = raw_program.upper()
    if key in NOT_SCORED_PROGRAMS:
        raise _error(source, f"{raw_program} reports to {NOT_SCORED_PROGRAMS[key]}, which this engine does not score",
                     program_node)
    if key not in PROGRAMS:
        raise _error(source, f"unknown program {raw_program!r}", program_node,
                     hint="one of " + ", ".join(PROGRAMS))
    program, entity = PROGRAMS[key]
    header: dict[str, Any] = {}
    nodes: dict[str, Node] = {"entityType": program_node}
    performers = ("documentationOf", "serviceEvent", "performer", "assignedEntity")
    organization = performers + ("representedOrganization",)

    def need(value: tuple[str, Node] | None, field_name: str, what: str, oid: str, path: str) -> None:
        if value is None:
            raise _error(source, f"no {what} for entityType {entity}: {path}/id with root {oid}",
                         root.kid("documentationOf") or root)
        header[field_name], nodes[field_name] = value

    tin = _one_value(root.ids(TIN_OID, *organization), "TIN", source) if entity in ("individual", "group",
                                                                                       "subgroup") else None
    if entity == "individual":
        need(_one_value(root.ids(NPI_OID, *performers), "NPI", source), "nationalProviderIdentifier", "NPI",
             NPI_OID, "documentationOf/serviceEvent/performer/assignedEntity")
    if entity in ("individual", "group", "subgroup"):
        need(tin, "taxpayerIdentificationNumber", "TIN", TIN_OID, "…/assignedEntity/representedOrganization")
    for ent, oid, what in (("virtualGroup", VIRTUAL_GROUP_OID, "virtual group ID"),
                           ("apm", APM_ENTITY_OID, "APM Entity ID"), ("subgroup", SUBGROUP_OID, "subgroup ID")):
        if entity == ent:
            need(_one_value(root.ids(oid, *organization), what, source), "entityId", what, oid,
                 "…/assignedEntity/representedOrganization")
    cehrt = _one_value(root.ids(CEHRT_OID, "participant", "associatedEntity"), "CEHRT ID", source)
    mvp = _one_value(root.ids(MVP_OID, "participant", "associatedEntity"), "MVP ID", source) \
        if program == "mips" and entity in ("individual", "group", "subgroup", "apm") else None
    # Sections
    sections: list[Section] = []
    seen: dict[str, Section] = {}
    for section in root.walk("component", "structuredBody", "component", "section"):
        kinds = [SECTIONS[t] for t in section.templates() if t in SECTIONS]
        if not kinds:
            continue  # a section CMS's conversion tool does not read either
        category = kinds[0]
        if category in seen:
            raise _error(source, f"a second {category} section (the first is at line {seen[category].node.line})",
                         section)
        acts = [a for e in section.kids("entry") for a in e.kids("act") if REPORTING_PARAMETERS_ACT in a.templates()]
        if len(acts) != 1:
            raise _error(source, f"the {category} section needs one Reporting Parameters Act (entry/act with templateId "
                                 f"{REPORTING_PARAMETERS_ACT}) for its performance period, found {len(acts)}", section)
        period = acts[0].kid("effectiveTime")
        start = _hl7_date(acts[0], period.kid("low") if period is not None else None, "performance period start", source)
        end = _hl7_date(acts[0], period.kid("high") if period is not None else None, "performance period end", source)
        wanted = {"quality": MEASURE_REFERENCE, "pi": (PI_NUMERATOR_DENOMINATOR, PI_MEASURE_PERFORMED_RNR),
                  "ia": (IA_MEASURE,)}[category]
        entries = [o for e in section.kids("entry") for o in e.kids("organizer") if o.templates() & set(wanted)]
        seen[category] = Section(category, section, start, end, entries)
        sections.append(seen[category])
    if not sections:
        raise _error(source, "no measure, Promoting Interoperability or improvement activity section "
                             f"(templateId {MEASURE_SECTION}, {PI_SECTION} or {IA_SECTION})", root)
    return QrdaDocument(source, root, program, entity, header, nodes, cehrt[0] if cehrt else None,
                        mvp[0] if mvp else None, sections)


def read_qrda_file(path: str | Path) -> QrdaDocument:
    """A QRDA III file: refused unread when larger than MAX_BYTES."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise InputError(Diagnostic(f"{p}: not a regular file, expected a QRDA III document"))
        if size > MAX_BYTES:
            raise InputError(Diagnostic(f"{p}: the document is {size} bytes; a QRDA III document may have at most "
                                        f"{MAX_BYTES}"))
        with p.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(Diagnostic(f"{p}: submission file not found")) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"{p}: cannot read the submission file: {exc.strerror or exc}")) from None
    return read_qrda(data, str(p))


class _YearOnly:
    """What `resolve_performance_year` reads of a submission, for a QRDA document (its reporting year)."""

    def __init__(self, year: int):
        self.performanceYear = year

    def validate_year(self, year: int, *, source: str = "") -> None:  # the periods are checked on conversion
        return None


def year_stand_in(document: QrdaDocument) -> _YearOnly:
    return _YearOnly(document.performance_year)


def qrda_submission(data: bytes | str, year: Any, source: str = "<qrda>") -> Any:
    """A QRDA III document (text or bytes) → the validated Submission under a loaded year."""
    return read_qrda(data, source).submission(year)
