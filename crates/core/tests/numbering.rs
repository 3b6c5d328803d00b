//! Every region's example numbers, as libphonenumber's metadata gives them
//! (`tests/data/example_numbers.tsv`, written by `tools/numbering/generate.py` with the
//! table itself), normalize: in E.164 from any default country, and in the region's own
//! national format (with its national prefix) for that region as the default. The one
//! exception is named: North American numbers must have ten digits.

use switchboard_core::{NumberPlan, number::NumberError};

#[test]
fn every_regions_example_numbers_normalize_internationally_and_nationally() {
    let data = include_str!("data/example_numbers.tsv");
    let us = NumberPlan::for_country("US").unwrap();
    let mut checked = 0;
    let mut regions = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [region, code, kind, national, trunk] = fields[..] else {
            panic!("a malformed line: {line:?}");
        };
        let e164 = format!("+{code}{national}");
        if code == "1" && national.len() != 10 {
            // The North American plan is held to NPA-NXX-XXXX: its short service numbers
            // (Canada's 310-xxxx) are refused, knowingly.
            assert!(
                matches!(
                    us.normalize(&e164),
                    Err(NumberError::InvalidForCountry { .. })
                ),
                "{region} {kind} {e164}"
            );
            continue;
        }
        match us.normalize(&e164) {
            Ok(n) if n.to_string() == e164 => {}
            other => failures.push(format!("{region} {kind} {e164}: {other:?}")),
        }
        if region != "001" {
            let home = NumberPlan::for_country(region).unwrap();
            let written = format!("{trunk}{national}");
            match home.normalize(&written) {
                Ok(n) if n.to_string() == e164 => {}
                other => failures.push(format!(
                    "{region} {kind} national {written:?}: {other:?} (want {e164})"
                )),
            }
            regions.insert(region);
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked}:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 1_000, "{checked} example numbers");
    assert!(regions.len() > 240, "{} regions", regions.len());
}

#[test]
fn customers_from_every_continent_are_accepted_and_letters_still_refused() {
    let us = NumberPlan::for_country("US").unwrap();
    for (raw, want) in [
        ("+63 917 123 4567", "+639171234567"),   // Philippines, mobile
        ("+90 501 234 56 78", "+905012345678"),  // Turkey
        ("+20 100 123 4567", "+201001234567"),   // Egypt
        ("+234 802 123 4567", "+2348021234567"), // Nigeria
        ("+62 812 3456 789", "+628123456789"),   // Indonesia
    ] {
        assert_eq!(
            us.normalize(raw).map(|n| n.to_string()).as_deref(),
            Ok(want),
            "{raw}"
        );
    }
    let ph = NumberPlan::for_country("PH").unwrap();
    assert_eq!(
        ph.normalize("0917 123 4567")
            .map(|n| n.to_string())
            .as_deref(),
        Ok("+639171234567")
    );
    assert_eq!(ph.normalize("0917-FLOWERS"), Err(NumberError::Letters));
    // A Philippine number of a length the plan does not have (7 digits).
    assert!(matches!(
        us.normalize("+63 917 1234"),
        Err(NumberError::InvalidForCountry {
            country: "Philippines"
        })
    ));
    // Still unknown: +999 is unassigned.
    assert_eq!(
        us.normalize("+999 123 4567"),
        Err(NumberError::UnknownCountry)
    );
}
