"""QRDA Category III input (issue #17): CMS's QRDA III samples read into the same submission as their
QPP JSON, score like it, and hostile or broken XML is a clean InputError naming the element and line.

Samples are CMS's (../shared/cms/samples/qpp-conversion-tool, from CMSgov/qpp-conversion-tool); the
expected numbers are worked out by hand from the XML below each test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mips_rules
from mips_rules.dsl.errors import InputError
from mips_rules.engine.cli.commands import app
from mips_rules.engine.inputs.context import ContextInput, parse_context
from mips_rules.engine.inputs.qrda import MAX_BYTES, qrda_submission, read_qrda, read_qrda_file
from mips_rules.engine.inputs.submission import parse_submission
from mips_rules.engine.scoring.render import to_json
from mips_rules.engine.scoring.score import score
from mips_rules.engine.years.loader import load_year

from conftest import RULES, shared_path

runner = CliRunner()

APP1 = ["2024-App1-Indv-QRDA-III.xml", "2024-App1-Group-QRDA-III.xml", "2024-App1-ApmEntity-Qrda-III.xml"]


def sample(name: str) -> Path:
    return shared_path("cms", "samples", "qpp-conversion-tool", name)


@pytest.fixture(scope="module")
def years():
    return {y: load_year(y, RULES) for y in (2024, 2025)}


# ---------------------------------------------------------------------------
# Year data: the eCQM identifiers
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("year", [2023, 2024, 2025, 2026])
def test_each_year_has_cms_ecqm_identifiers(year):
    cms = json.loads(shared_path("cms", "qpp-measures-data", str(year), "measures-data.json").read_text())
    with_uuid = [m for m in cms if m.get("eMeasureUuid")]
    table = load_year(year, RULES).namespaces()["ecqm"]["measures"]
    assert len(table.rows) == len(with_uuid)  # 47, 46, 47; CMS's 2026 file has none (never 2025's)
    for m in with_uuid:
        row = table.get(m["eMeasureUuid"].lower())
        assert row["measure_id"] == m["measureId"] and row["metric_type"] == m["metricType"]
        cms_strata = [s for s in m["strata"] if s.get("eMeasureUuids")]
        assert [s["numerator_uuid"] for s in row["strata"]] == \
            [s["eMeasureUuids"]["numeratorUuid"].lower() for s in cms_strata]


def test_ecqm_import_is_reproducible(tmp_path):
    import shutil

    folder = tmp_path / "rules" / "2025"
    for y in (2023, 2024, 2025):
        shutil.copytree(RULES / str(y), tmp_path / "rules" / str(y))
    cms = shared_path("cms", "qpp-measures-data", "2025")
    result = runner.invoke(app, ["data", "import", "2025", str(cms), "--rules", str(tmp_path / "rules"),
                                 "--date", "2026-11-29", "--commit", "100b25f9ac65615fcd7b75b11d16dc5a02b3e92f"])
    assert result.exit_code == 0, result.output
    for name in ("ecqm.json", "measures.json", "benchmarks.json", "mvps.json"):
        assert (folder / name).read_bytes() == (RULES / "2025" / name).read_bytes(), name


# ---------------------------------------------------------------------------
# XML ↔ QPP JSON
# ---------------------------------------------------------------------------

def test_valid_qrda_latest_converts_to_cms_qpp_json(years):
    """valid-QRDA-III-latest-qpp.2022.json is CMS's conversion of an earlier edition of the XML; the XML has
    since moved to 2025 (its eCQM UUIDs are 2025's: 236 = CMS165v13, 001 = CMS122v13; its reporting
    periods are 2025's full year) and to another CEHRT ID. Everything else is the same, field for field."""
    xml = read_qrda_file(sample("valid-QRDA-III-latest.xml"))
    assert xml.performance_year == 2025
    converted, _ = xml.to_qpp(years[2025])
    cms = json.loads(sample("valid-QRDA-III-latest-qpp.2022.json").read_text())

    def without_dates(sub):
        out = {k: v for k, v in sub.items() if k != "performanceYear"}
        out["measurementSets"] = [{k: v for k, v in ms.items()
                                   if k not in ("performanceStart", "performanceEnd", "cehrtId")}
                                  for ms in sub["measurementSets"]]
        return out

    assert without_dates(converted) == without_dates(cms)
    # 236 by hand: DENOM 1000, NUMER 800, DENEX 100 → not met 1000 − 800 − 100 = 100.
    assert converted["measurementSets"][0]["measurements"][0] == {"measureId": "236", "value": {
        "isEndToEndReported": True, "performanceMet": 800, "performanceNotMet": 100, "eligiblePopulation": 1000,
        "eligiblePopulationExclusion": 100}}
    assert converted["measurementSets"][1]["cehrtId"] == "XX15CXXXXXXXXXX"


def test_valid_qrda_latest_scores_like_its_json(years):
    year = years[2025]
    xml = read_qrda_file(sample("valid-QRDA-III-latest.xml"))
    converted, _ = xml.to_qpp(year)
    cms = json.loads(sample("valid-QRDA-III-latest-qpp.2022.json").read_text())
    # The JSON re-dated to the XML's year, periods and CEHRT ID (the edition differences above).
    cms["performanceYear"] = 2025
    for ms, twin in zip(cms["measurementSets"], converted["measurementSets"]):
        ms.update({k: twin[k] for k in ("performanceStart", "performanceEnd")})
        if "cehrtId" in twin:
            ms["cehrtId"] = twin["cehrtId"]
    ctx = parse_context({"performance_year": 2025})
    from_xml = to_json(score(year, xml.submission(year), ctx).report)
    from_json = to_json(score(year, parse_submission(cms), ctx).report)
    assert from_xml == from_json
    report = json.loads(from_xml)
    measures = {m["measure_id"]: m for m in report["categories"]["quality"]["measures"]}
    # 800 / (1000 − 100 excluded) = 88.888889%, every patient reported: 100% complete.
    assert measures["236"]["performance_rate"] == measures["001"]["performance_rate"] == 88.888889
    assert measures["236"]["data_completeness"] == 100


@pytest.mark.parametrize("name, entity, ids", [
    (APP1[0], "individual", {"nationalProviderIdentifier": "2567891421", "taxpayerIdentificationNumber": "990000099"}),
    (APP1[1], "group", {"taxpayerIdentificationNumber": "990000099"}),
    (APP1[2], "apm", {"entityId": "MIPS1001"}),
])
def test_2024_app1_samples_score(years, name, entity, ids):
    """CMS's 2024 APP samples (informationRecipient MIPS_APP1_INDIV / _GROUP / _APMENTITY).

    By hand from the XML: the measure entry names eCQM UUID 2c928083-8651-08a3-0186-c82995a91d28, which
    CMS's 2024 measures-data.json gives to 134 (CMS2v13) — although its comments and text say CMS68v13 /
    Controlling High Blood Pressure and its population UUIDs are CMS68v13's (130): CMS's tool counts the
    populations by their codes, and so does this reader. DENOM 1000, NUMER 800, DENEXCEP 100 → not met
    100; rate 800 / (1000 − 100) = 88.888889%, completeness 100%. 2024's 134 eCQM benchmark: p80 80.72,
    p90 93.44 → 9 + (88.888889 − 80.72) / (93.44 − 80.72) = 9.6422 points. PI: PI_EP_1 750/800 = 93.75% of
    10 → 9; PI_EP_2 yes → 10; PI_PEA_1 600/800 = 75% of 25 → 18.75 → 19; but no PI_INFBLO_1 / ONC
    attestations in the samples → PI 0. Under the APP (context reporting_option: app): quality 9.6422 of
    40 (001, 134, 236, 321 at 10 each; 479 and 484 missing leave the denominator) = 24.1055%, × 50% =
    12.05275; IA full credit 100 × 20% = 20; cost not scored → final 32.05."""
    year = years[2024]
    doc = read_qrda_file(sample(name))
    assert (doc.program, doc.entity_type, doc.performance_year) == ("app1", entity, 2024)
    data, _ = doc.to_qpp(year)
    assert data["entityType"] == entity and {k: data.get(k) for k in ids} == ids
    assert "nationalProviderIdentifier" not in data or entity == "individual"
    assert [ms["programName"] for ms in data["measurementSets"]] == ["app1", "app1"]
    assert data["measurementSets"][0]["measurements"] == [{"measureId": "134", "value": {
        "isEndToEndReported": True, "performanceMet": 800, "performanceNotMet": 100, "eligiblePopulation": 1000,
        "eligiblePopulationException": 100}}]
    assert data["measurementSets"][1]["measurements"] == [
        {"measureId": "PI_EP_2", "value": True}, {"measureId": "PI_EP_1", "value": {"numerator": 750, "denominator": 800}},
        {"measureId": "PI_PEA_1", "value": {"numerator": 600, "denominator": 800}}]
    report = json.loads(to_json(score(year, doc.submission(year), ContextInput({"reporting_option": "app"})).report))
    quality = report["categories"]["quality"]
    (m134,) = quality["measures"]
    assert (m134["measure_id"], m134["performance_rate"], m134["data_completeness"], m134["points"]) == \
        ("134", 88.888889, 100, 9.6422)
    assert quality["score"] == 24.1055
    assert {m["measure_id"]: m["points"] for m in report["categories"]["pi"]["measures"]} == \
        {"PI_EP_1": 9, "PI_EP_2": 10, "PI_PEA_1": 19}
    assert report["categories"]["pi"]["score"] == 0
    assert report["final_score"] == 32.05


def test_cli_scores_a_qrda_file():
    path = sample(APP1[0])
    result = runner.invoke(app, ["score", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["performance_year"] == 2024 and report["entity"]["npi"] == "2567891421"
    # The year still comes from the inputs, which must agree.
    result = runner.invoke(app, ["score", str(path), "--year", "2023"])
    assert result.exit_code == 1 and "--year 2023 contradicts the inputs' performance year 2024" in result.output
    assert "Traceback" not in result.output


def test_cli_detects_qrda_by_content(tmp_path):
    copy = tmp_path / "upload.dat"
    copy.write_bytes(sample(APP1[1]).read_bytes())
    result = runner.invoke(app, ["score", str(copy), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entity"]["type"] == "group"


def test_batch_reads_qrda_text_records(tmp_path):
    xml = sample(APP1[0]).read_text()
    lines = [{"id": "xml", "submission": xml, "context": {"reporting_option": "app"}},
             {"id": "bad", "submission": xml.replace("2c928083-8651-08a3-0186-c82995a91d28", "not-a-uuid")},
             {"id": "text", "submission": "hello"}]
    population = tmp_path / "pop.jsonl"
    population.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    out = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["batch", str(population), "--year", "2024", "-o", str(out), "--workers", "1"])
    assert result.exit_code == 1, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["id"] == "xml" and rows[0]["final_score"] == 32.05
    assert "line 2: submission:165: /ClinicalDocument/" in rows[1]["error"]
    assert "unknown eCQM UUID 'not-a-uuid'" in rows[1]["error"]
    assert "must be a QRDA Category III document" in rows[2]["error"]


def test_python_api_takes_qrda_text_or_path():
    year = mips_rules.load_year(2024)
    path = sample(APP1[2])
    context = {"reporting_option": "app", "entity": {"type": "apm_entity"}}
    by_path = year.score(path, context)
    by_text = year.score(path.read_text(), context)
    assert by_path == by_text and by_path["final_score"] == 32.05
    assert by_path["entity"]["entity_id"] == "MIPS1001"


# ---------------------------------------------------------------------------
# Synthetic documents: multi-rate measures, 438, errors
# ---------------------------------------------------------------------------

def population(code: str, uuid: str, count: int | str | None) -> str:
    counted = "" if count is None else f"""
        <entryRelationship typeCode="SUBJ" inversionInd="true"><observation classCode="OBS" moodCode="EVN">
          <templateId root="2.16.840.1.113883.10.20.27.3.3"/>
          <value xsi:type="INT" value="{count}"/></observation></entryRelationship>"""
    return f"""
      <component><observation classCode="OBS" moodCode="EVN">
        <templateId root="2.16.840.1.113883.10.20.27.3.5"/><templateId root="2.16.840.1.113883.10.20.27.3.16"/>
        <value xsi:type="CD" code="{code}" codeSystem="2.16.840.1.113883.5.4"/>{counted}
        <reference typeCode="REFR"><externalObservation classCode="OBS" moodCode="EVN">
          <id root="{uuid}"/></externalObservation></reference>
      </observation></component>"""


def document(measures: list[tuple[str, list[tuple[str, str, int | str | None]]]], *, year: int = 2024,
             program: str = "MIPS_INDIV", prolog: str = "") -> str:
    entries = "".join(f"""
    <entry><organizer classCode="CLUSTER" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.27.3.1" extension="2016-09-01"/>
      <reference typeCode="REFR"><externalDocument classCode="DOC" moodCode="EVN">
        <id root="2.16.840.1.113883.4.738" extension="{uuid}"/></externalDocument></reference>
      {"".join(population(*p) for p in pops)}
    </organizer></entry>""" for uuid, pops in measures)
    return f"""{prolog}<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <templateId root="2.16.840.1.113883.10.20.27.1.1" extension="2017-06-01"/>
  <informationRecipient><intendedRecipient><id root="2.16.840.1.113883.3.249.7" extension="{program}"/>
  </intendedRecipient></informationRecipient>
  <documentationOf><serviceEvent><performer><assignedEntity>
    <id root="2.16.840.1.113883.4.6" extension="1234567893"/>
    <representedOrganization><id root="2.16.840.1.113883.4.2" extension="000123456"/></representedOrganization>
  </assignedEntity></performer></serviceEvent></documentationOf>
  <component><structuredBody><component><section>
    <templateId root="2.16.840.1.113883.10.20.27.2.3" extension="2022-05-01"/>{entries}
    <entry typeCode="DRIV"><act classCode="ACT" moodCode="EVN">
      <templateId root="2.16.840.1.113883.10.20.17.3.8"/>
      <effectiveTime><low value="{year}0101"/><high value="{year}1231"/></effectiveTime></act></entry>
  </section></component></structuredBody></component>
</ClinicalDocument>
"""


def ecqm_row(year, measure_id):
    table = year.namespaces()["ecqm"]["measures"]
    return next(r for r in table.rows.values() if r["measure_id"] == measure_id)


def pops_of(stratum, denom, numer, denex=None):
    out = [("IPOP", stratum["initial_population_uuid"], denom), ("DENOM", stratum["denominator_uuid"], denom),
           ("NUMER", stratum["numerator_uuid"], numer)]
    if denex is not None:
        out.append(("DENEX", stratum["denominator_exclusion_uuid"], denex))
    return out


def test_multi_rate_measure_becomes_named_strata(years):
    year = years[2024]
    row = ecqm_row(year, "009")  # CMS128v12: 84Days and 180Days, CMS's order
    first, second = row["strata"]
    # The populations in the document in reverse order, the UUIDs upper case: grouped by UUID.
    pops = pops_of(second, 50, 20, 5) + [(c, u.upper(), n) for c, u, n in pops_of(first, 40, 30, 0)]
    sub = qrda_submission(document([(row["e_measure_uuid"].upper(), pops)]), year)
    value = sub.measurementSets[0].measurements[0].value
    assert [(s.stratum, s.performanceMet, s.performanceNotMet, s.eligiblePopulation) for s in value.strata] == \
        [("84Days", 30, 10, 40), ("180Days", 20, 25, 50)]
    # A population UUID that is none of the measure's is refused, with its element and line.
    bad = pops_of(first, 40, 30) + pops_of(second, 50, 20)[:-1] + [("NUMER", "11111111-2222-3333-4444-555555555555", 20)]
    with pytest.raises(InputError) as err:
        qrda_submission(document([(row["e_measure_uuid"], bad)]), year, "doc.xml")
    assert "population UUID '11111111-2222-3333-4444-555555555555' (NUMER) is not one of" in str(err.value)
    assert "doc.xml:" in str(err.value) and "/organizer/component[6]/observation" in str(err.value)


def test_438_adds_up_its_population_sets(years):
    year = years[2024]
    row = ecqm_row(year, "438")
    assert len(row["strata"]) == 4 and year.namespaces()["qrda"]["sum_population_sets"] == ("438",)
    pops = [p for k, s in enumerate(row["strata"]) for p in pops_of(s, 10 * (k + 1), 5 * (k + 1), 1)]
    value = qrda_submission(document([(row["e_measure_uuid"], pops)]), year).measurementSets[0].measurements[0].value
    # DENOM 10+20+30+40 = 100, NUMER 5+10+15+20 = 50, DENEX 4 → not met 46.
    assert (value.eligiblePopulation, value.performanceMet, value.eligiblePopulationExclusion,
            value.performanceNotMet) == (100, 50, 4, 46)


# ---------------------------------------------------------------------------
# Hostile and broken documents: clean errors with the element and line
# ---------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ClinicalDocument xmlns="urn:hl7-org:v3">&lol3;</ClinicalDocument>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>
"""
DOCTYPE = """<?xml version="1.0"?>\n<!DOCTYPE ClinicalDocument SYSTEM "http://example.org/qrda.dtd">
<ClinicalDocument xmlns="urn:hl7-org:v3"/>
"""


@pytest.mark.parametrize("text, expected", [
    (BILLION_LAUGHS, ":2: a DOCTYPE is not allowed"),
    (EXTERNAL, ":2: a DOCTYPE is not allowed"),
    (DOCTYPE, ":2: a DOCTYPE is not allowed"),
    ('<ClinicalDocument xmlns="urn:hl7-org:v3">&xxe;</ClinicalDocument>', ":1: not well-formed XML: undefined entity"),
    ("<ClinicalDocument xmlns='urn:hl7-org:v3'><title></ClinicalDocument>", ":1: not well-formed XML: mismatched tag"),
    ('{"entityType": "individual"}', ":1: not well-formed XML: not well-formed (invalid token)"),
    ('<?xml version="1.0"?>\n<html><body/></html>', ":2: /html: expected a QRDA Category III document"),
    ('<ClinicalDocument xmlns="urn:hl7-org:v3"/>', ":1: /ClinicalDocument: not a QRDA Category III report"),
    ("<a>" * 200 + "</a>" * 200, ":1: elements nested more than 100 deep"),
])
def test_hostile_and_malformed_xml_is_refused(tmp_path, text, expected):
    path = tmp_path / "upload.xml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_qrda_file(path)
    assert str(path) + expected in str(err.value)
    result = runner.invoke(app, ["score", str(path)])
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output


def test_external_entities_are_never_read(tmp_path, monkeypatch):
    import builtins

    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: (opened.append(str(f)), real_open(f, *a, **k))[1])
    with pytest.raises(InputError):
        read_qrda(EXTERNAL, "x.xml")
    assert "/etc/passwd" not in opened


def test_an_oversize_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.xml"
    with path.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: nothing to read, and nothing is read
    result = runner.invoke(app, ["score", str(path)])
    assert result.exit_code == 1 and f"the document is {MAX_BYTES + 1} bytes" in result.output
    with pytest.raises(InputError, match="at most"):
        read_qrda("<a/>" + " " * MAX_BYTES)


def test_unknown_ecqm_uuid_names_the_element_and_line(years, tmp_path):
    text = sample(APP1[0]).read_text().replace("2c928083-8651-08a3-0186-c82995a91d28",
                                               "2c928083-0000-0000-0000-000000000000")
    path = tmp_path / "indv.xml"
    path.write_text(text)
    result = runner.invoke(app, ["score", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (f"{path}:165: /ClinicalDocument/component/structuredBody/component[1]/section/entry[1]/organizer/"
            "reference/externalDocument/id: unknown eCQM UUID '2c928083-0000-0000-0000-000000000000': "
            "no eCQM of 2024 has it") in result.output
    # Another year's UUID is unknown too: UUIDs name one version of an eCQM.
    with pytest.raises(InputError, match="unknown eCQM UUID"):
        qrda_submission(document([("2c928083-8907-ce68-0189-2bbd31d6064e", [])]), years[2024])


def test_2026_has_no_ecqm_uuids_and_says_so():
    year = load_year(2026, RULES)
    with pytest.raises(InputError) as err:
        qrda_submission(document([("2c928083-8907-ce68-0189-2bbd31d6064e", [])], year=2026), year)
    assert "the 2026 data lists no eCQM UUIDs" in err.value.render()


def test_a_missing_count_names_its_observation(years):
    row = ecqm_row(years[2024], "236")
    (s,) = row["strata"]
    pops = [("DENOM", s["denominator_uuid"], 10), ("NUMER", s["numerator_uuid"], None)]
    with pytest.raises(InputError) as err:
        qrda_submission(document([(row["e_measure_uuid"], pops)]), years[2024], "doc.xml")
    message = str(err.value)
    assert "doc.xml:" in message and "/organizer/component[2]/observation: measure 236 (CMS165v12): NUMER: " \
        "needs exactly one Aggregate Count" in message
    pops[1] = ("NUMER", s["numerator_uuid"], "ten")
    with pytest.raises(InputError, match="the aggregate count must be a whole number of 0 or more, got 'ten'"):
        qrda_submission(document([(row["e_measure_uuid"], pops)]), years[2024])
    pops[1] = ("NUMER", s["numerator_uuid"], 11)
    with pytest.raises(InputError, match=r"DENOM 10 is less than NUMER \+ DENEX \+ DENEXCEP \(11\)"):
        qrda_submission(document([(row["e_measure_uuid"], pops)]), years[2024])


def test_header_problems(years):
    row = ecqm_row(years[2024], "236")
    (s,) = row["strata"]
    good = [(row["e_measure_uuid"], pops_of(s, 10, 5))]
    assert qrda_submission(document(good), years[2024]).entityType == "individual"
    with pytest.raises(InputError, match="unknown program 'MIPS_SOLO'"):
        qrda_submission(document(good, program="MIPS_SOLO"), years[2024])
    with pytest.raises(InputError, match="PCF reports to Primary Care First, which this engine does not score"):
        qrda_submission(document(good, program="PCF"), years[2024])
    with pytest.raises(InputError, match="reports performance year 2025.*these are the 2024 rules"):
        qrda_submission(document(good, year=2025), years[2024])
    # A validation error of the QPP JSON model still names the XML element and line.
    text = document(good).replace('extension="000123456"', 'extension="12345"')
    with pytest.raises(InputError) as err:
        qrda_submission(text, years[2024], "doc.xml")
    assert "doc.xml:7: /ClinicalDocument/documentationOf/serviceEvent/performer/assignedEntity/" \
           "representedOrganization/id: taxpayerIdentificationNumber: taxpayerIdentificationNumber must be " \
           "exactly 9 digits" in str(err.value)


def test_an_mvp_document_reports_its_mvp(years, tmp_path):
    """CMS's 2024 individual sample sent as traditional MIPS for MVP G0053 (informationRecipient MIPS_INDIV,
    the MVP ID in `participant/associatedEntity/id[@root='2.16.840.1.113883.3.249.5.6']`): every set names
    the MVP, and it scores as one. Its one measure, 134 (9.6422 points, see above), is one of G0053's 2024
    quality measures; the other 3 required slots score 0 and no population health measure is given:
    9.6422 / 40 = 24.1055%; the quality requirement (4 measures) is not met."""
    text = sample(APP1[0]).read_text(encoding="utf-8").replace("MIPS_APP1_INDIV", "MIPS_INDIV")
    text = text.replace('<participant typeCode="DEV">', '<participant typeCode="TRC"><associatedEntity classCode="PROG">'
                        '<id root="2.16.840.1.113883.3.249.5.6" extension="G0053"/></associatedEntity></participant>'
                        '\n    <participant typeCode="DEV">', 1)
    path = tmp_path / "mvp.xml"
    path.write_text(text, encoding="utf-8")
    year = years[2024]
    doc = read_qrda_file(path)
    data, _ = doc.to_qpp(year)
    assert {ms["programName"] for ms in data["measurementSets"]} == {"G0053"}
    report = json.loads(to_json(score(year, doc.submission(year), ContextInput({})).report))
    assert report["reporting_option"] == "mvp" and report["mvp"].startswith("G0053 ")
    assert report["categories"]["quality"]["score"] == 24.1055
    assert report["mvp_requirements"][0]["met"] is False
