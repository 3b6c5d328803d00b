#!/usr/bin/env python3
"""Generates Switchboard's numbering table from libphonenumber's metadata.

    pip install phonenumbers==9.0.43 pycountry==26.2.16
    python3 tools/numbering/generate.py

writes crates/core/src/number/regions.rs (the table the normalizer reads) and
crates/core/tests/data/example_numbers.tsv (every region's example numbers, which
crates/core/tests/numbering.rs normalizes). Both are checked in: a build needs neither
Python nor the metadata.

Per country calling code, the table keeps what a strict, allocation-free check needs:
the national significant number's possible lengths (a bit set) and the digits it may
start with (a bit set), as the union over the regions sharing the code; and per region
its ISO code, name, national (trunk) prefix and international prefix, for numbers written
in national format. The leading digits are worked out from each region's general number
pattern: the set of digits its regular expression can start with.
"""

import re
import sys
from pathlib import Path

try:
    import re._parser as sre_parse  # Python 3.11+
    import re._constants as sre_constants
except ImportError:  # pragma: no cover
    import sre_parse
    import sre_constants

import phonenumbers
import pycountry
from phonenumbers import PhoneMetadata

ROOT = Path(__file__).resolve().parents[2]

DIGITS = set("0123456789")


def first_digits(pattern):
    """The digits a string matching `pattern` may start with."""

    def first(items):
        # FIRST set of a sequence of items, and whether the sequence can be empty.
        out = set()
        for op, av in items:
            f, nullable = item(op, av)
            out |= f
            if not nullable:
                return out, False
        return out, True

    def item(op, av):
        if op == sre_constants.LITERAL:
            return {chr(av)} & DIGITS, False
        if op == sre_constants.IN:
            s = set()
            for iop, iav in av:
                if iop == sre_constants.LITERAL:
                    s.add(chr(iav))
                elif iop == sre_constants.RANGE:
                    s |= {chr(c) for c in range(iav[0], iav[1] + 1)}
                elif iop == sre_constants.CATEGORY and iav == sre_constants.CATEGORY_DIGIT:
                    s |= DIGITS
                else:
                    raise ValueError(f"unexpected class item {iop} in {pattern}")
            return s & DIGITS, False
        if op == sre_constants.CATEGORY and av == sre_constants.CATEGORY_DIGIT:
            return set(DIGITS), False
        if op == sre_constants.BRANCH:
            s, nullable = set(), False
            for alternative in av[1]:
                f, n = first(alternative)
                s |= f
                nullable |= n
            return s, nullable
        if op == sre_constants.SUBPATTERN:
            return first(av[-1])
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            lo, _, sub = av
            f, n = first(sub)
            return f, n or lo == 0
        raise ValueError(f"unexpected regex item {op} in {pattern}")

    found, _ = first(sre_parse.parse(pattern))
    return sorted(int(d) for d in found)


def lengths(desc):
    return sorted(l for l in desc.possible_length if l > 0)


def literal_digits(prefix):
    return prefix if prefix and re.fullmatch(r"\d+", prefix) else None


def name_of(iso):
    if iso == "001":
        return "international"
    country = pycountry.countries.get(alpha_2=iso)
    if country is None:
        return {"XK": "Kosovo", "AC": "Ascension Island", "TA": "Tristan da Cunha"}.get(iso, iso)
    return getattr(country, "common_name", None) or country.name


def regions():
    for iso in sorted(phonenumbers.SUPPORTED_REGIONS):
        yield iso, PhoneMetadata.metadata_for_region(iso)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        yield "001", PhoneMetadata.metadata_for_nongeo_region(code)


EXAMPLE_TYPES = [
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
    "personal_number", "voip", "pager", "uan", "voicemail",
]


def rust_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    codes = {}
    region_rows = []
    examples = []
    for iso, m in regions():
        general = m.general_desc
        lens = lengths(general)
        firsts = first_digits(general.national_number_pattern)
        entry = codes.setdefault(m.country_code, {"lengths": set(), "first": set(), "regions": []})
        entry["lengths"] |= set(lens)
        entry["first"] |= set(firsts)
        entry["regions"].append(iso)
        intl = literal_digits(m.international_prefix) or literal_digits(
            m.preferred_international_prefix
        )
        trunk = literal_digits(m.national_prefix)
        region_rows.append((iso, name_of(iso), m.country_code, trunk, intl))
        for kind in EXAMPLE_TYPES:
            desc = getattr(m, kind)
            if desc is not None and desc.example_number:
                examples.append((iso, m.country_code, kind, desc.example_number, trunk or ""))

    out = [
        "// Generated by tools/numbering/generate.py from libphonenumber's metadata",
        f"// (phonenumbers {phonenumbers.__version__}). Do not edit by hand: run the generator.",
        "",
        "use super::{CodePlan, Region};",
        "",
        "/// Every country calling code with a numbering plan: national significant number",
        "/// lengths (bit n set = n digits) and leading digits (bit d set = may start with d),",
        "/// over all the regions that share the code. Sorted by code.",
        "pub(super) static CODES: &[CodePlan] = &[",
    ]
    for code in sorted(codes):
        e = codes[code]
        lmask = sum(1 << l for l in e["lengths"])
        fmask = sum(1 << d for d in e["first"])
        # Messages name a code by its main region ("not a valid Philippines number"); the
        # North American Numbering Plan's many regions go by the plan's name.
        if code == 1:
            name = "North American"
        else:
            main = phonenumbers.region_code_for_country_code(code)
            name = name_of(main if main != "ZZ" else "001")
        out.append(
            f"    CodePlan {{ code: {code}, name: {rust_str(name)}, lengths: {lmask:#x}, first: {fmask:#05x} }},"
        )
    out += [
        "];",
        "",
        "/// Every region: its ISO 3166 code (`001` for non-geographic codes), name, calling",
        "/// code, national (trunk) prefix and international prefix, when they are plain digits.",
        "pub(super) static REGIONS: &[Region] = &[",
    ]
    for iso, name, code, trunk, intl in region_rows:
        trunk_s = f"Some({rust_str(trunk)})" if trunk else "None"
        intl_s = f"Some({rust_str(intl)})" if intl else "None"
        out.append(
            f"    Region {{ iso: {rust_str(iso)}, name: {rust_str(name)}, code: {code}, "
            f"trunk: {trunk_s}, international: {intl_s} }},"
        )
    out += ["];", ""]
    target = ROOT / "crates/core/src/number/regions.rs"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(out))

    data = ROOT / "crates/core/tests/data/example_numbers.tsv"
    data.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# region\tcode\ttype\tnational number\tnational prefix"]
    lines += ["\t".join(str(x) for x in row) for row in examples]
    data.write_text("\n".join(lines) + "\n")
    print(f"{len(codes)} calling codes, {len(region_rows)} regions, {len(examples)} example numbers",
          file=sys.stderr)


if __name__ == "__main__":
    main()
