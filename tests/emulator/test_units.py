#!/usr/bin/env python3
"""Pure functions of the emulator, without a rig: sanitiser, CSV reader, coercions, faults."""
from kbemu.bodies import parse_body, to_bool
from kbemu.csvdialect import dialect_from_params
from kbemu.csvparse import CsvSyntaxError, parse_records, parse_records_reference
from kbemu.errors import ApiError
from kbemu.faults import FaultInjector, endpoint_class
from kbemu.names import check_header_columns, sanitise_column, webalize
from tap import Tap, tests_in


def test_sanitiser_matches_the_documented_examples(tap):
    examples = {
        "_abc-def----ghi_": "abc_def_ghi", "žluťoučký    kůň": "zlutoucky_kun",
        "lot__of_____underscores____": "lot__of_____underscores", "language-id": "language_id",
        "currency €": "currency_EUR", "$$ some name $$": "some_name",
        "_MůjBucketíček": "MujBucketicek", "with spaces": "with_spaces", "----$$$$-----": "",
        "Straße": "Strasse", "id": "id",
    }
    for raw, expected in examples.items():
        tap.eq(sanitise_column(raw), expected, f"sanitise {raw!r}")
    tap.eq(webalize("x" * 70), "x" * 64, "webalize cuts to 64 characters")
    tap.eq(webalize("ctid"), "ctid", "webalize leaves system column names alone")
    tap.eq(webalize("----$$$$-----"), "", "webalize gives \"\" when nothing is left")


def test_system_columns_are_stored_with_an_underscore(tap):
    tap.eq(check_header_columns(["oid", "TableOid", "xmin", "cmin", "xmax", "cmax", "ctid", "id"],
                                "csvImport"),
           ["oid_", "TableOid_", "xmin_", "cmin_", "xmax_", "cmax_", "ctid_", "id"],
           "every system name, any case, gets \"_\"; other names do not")
    tap.eq(check_header_columns(["oidx", "my oid"], "csvImport"), ["oidx", "my_oid"],
           "only whole names are system names")


def test_csv_reader_handles_rfc4180(tap):
    tap.eq(parse_records('a,b\r\n"x\r\ny","q""q"\n'), [["a", "b"], ["x\r\ny", 'q"q']],
           "CRLF, quoted CRLF, doubled quote")
    tap.eq(parse_records("a;b\n1;2", ";"), [["a", "b"], ["1", "2"]], "semicolon, no final newline")
    tap.eq(parse_records("a\tb\n", "\t"), [["a", "b"]], "tab delimiter")
    tap.eq(parse_records("a,b\nx\\,y,z\\\\\n", ",", "", "\\"), [["a", "b"], ["x,y", "z\\"]],
           "escapedBy backslash")
    tap.eq(parse_records(""), [], "empty text has no records")
    for bad, what in (('a,"b\n', "unterminated enclosure"), ('"a"x,b\n', "text after enclosure"),
                      ("a,b\r1,2\r", "CR-only line breaks")):
        try:
            parse_records(bad)
            tap.ok(False, f"{what} is refused")
        except CsvSyntaxError:
            tap.ok(True, f"{what} is refused")


def test_fast_reader_agrees_with_the_reference(tap):
    samples = ['a,b\r\n"x\r\ny","q""q"\n', "a\n\nb\n", 'a"b,c\n', '"",x\n', "a,b\n1,\n",
               'a,"b', '"a"x,b\n', "\n", "x,y\r\n1,2", 'a,"b\rc"\n']

    def outcome(reader, text):
        try:
            return reader(text)
        except CsvSyntaxError:
            return "error"
    for text in samples:
        tap.eq(outcome(parse_records, text), outcome(parse_records_reference, text),
               f"both readers agree on {text!r}")


def test_dialect_validation(tap):
    tap.eq(dialect_from_params({"delimiter": "\\t"})["delimiter"], "\t", "backslash-t means TAB")
    tap.eq(dialect_from_params({"escapedBy": "\\"})["enclosure"], "", "escapedBy alone drops the enclosure")
    for params, what in (({"delimiter": "/t"}, "two-character delimiter"),
                         ({"enclosure": '"', "escapedBy": "\\"}, "enclosure plus escapedBy")):
        try:
            dialect_from_params(params)
            tap.ok(False, f"{what} is refused")
        except ApiError as exc:
            tap.eq((exc.status, exc.code), (400, "invalidCsv"), f"{what} is refused with 400 invalidCsv")


def test_body_coercions(tap):
    for value, expected in ((True, True), ("1", True), ("true", True), (1, True), (False, False),
                            ("0", False), ("false", False), (0, False), (None, False)):
        tap.eq(to_bool(value), expected, f"to_bool({value!r})")
    tap.eq(parse_body("application/x-www-form-urlencoded", b"tags[]=a&tags[]=b&name=x"),
           {"tags": ["a", "b"], "name": "x"}, "form arrays use name[]")


def test_fault_sequence_is_reproducible(tap):
    def sequence(seed, noise):
        faults = FaultInjector(0.5, seed)
        kinds = []
        for index in range(40):
            if noise:  # requests of another class must not shift this class's sequence
                faults.decide("files", "GET", "/v2/storage/files/1")
            kinds.append(faults.decide("jobs", "GET", f"/v2/storage/jobs/{index}"))
        return kinds
    first = sequence(7, False)
    tap.eq(sequence(7, True), first, "same seed, same per-class sequence, whatever other classes do")
    tap.ok(sequence(8, False) != first, "another seed gives another sequence")
    tap.ok(any(first) and not all(first), "rate 0.5 faults some but not all requests")
    tap.eq(endpoint_class("/v2/storage/buckets/in.c-x/tables-async"), "tables", "endpoint classes")
    tap.eq(endpoint_class("/_emulator/faults"), None, "emulator-only paths are never faulted")


if __name__ == "__main__":
    tap = Tap()
    tap.run(tests_in(globals()))
    tap.finish()
