//! Number normalization: any text a switch or an import file may send. Never panics; a
//! number it accepts is accepted again, as the same number, when written back in E.164.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::NumberPlan;

fuzz_target!(|text: &str| {
    for country in ["US", "GB", "DE", "FR", "IN"] {
        let plan = NumberPlan::for_country(country).expect("a supported country");
        if let Ok(number) = plan.normalize(text) {
            let written = number.to_string();
            assert_eq!(
                plan.normalize(&written),
                Ok(number),
                "{text:?} became {written}, which does not read back"
            );
        }
    }
});
