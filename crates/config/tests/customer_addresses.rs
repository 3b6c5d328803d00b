//! Customers CSV: email addresses, social handles and the preferred channel, in any
//! column order, each bad value refused with its line.

use std::{path::Path, sync::Arc};

use switchboard_config::{DEFAULT_CONFIG, customers::import, parse};
use switchboard_core::{Directory, channel::Channel};

#[test]
fn addresses_and_the_preferred_channel_are_read_normalized_and_bad_ones_refused_by_line() {
    let plan = parse(DEFAULT_CONFIG, Path::new("switchboard.toml"))
        .unwrap()
        .plan;
    let csv = "\
preferred_channel,social_handles,customer_id,phone_numbers,emails
chat,X:@JaneD;instagram:jane.doe,cust-1,+12125550181,Jane@Example.com
,,cust-2,+12125550182,
fax,,cust-3,+12125550183,
,,cust-4,+12125550184,jane@localhost
,x:janed,cust-5,+12125550185,
";
    let directory = Directory::new();
    let report = import(csv.as_bytes(), &plan, &directory).unwrap();
    assert_eq!(report.imported, 2);
    let messages: Vec<String> = report.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "line 4: preferred_channel: unknown channel \"fax\"",
            "line 5: emails: \"jane@localhost\": not an email address: the domain needs a dot (example.com)",
            "line 6: x:janed belongs to customer cust-1",
        ]
    );
    let jane = directory.lookup_address("jane@example.com").unwrap();
    assert_eq!(jane.id(), "cust-1");
    assert_eq!(jane.preferred_channel, Some(Channel::Chat));
    assert_eq!(
        jane.social_handles().collect::<Vec<_>>(),
        ["x:janed", "instagram:jane.doe"]
    );
    assert!(Arc::ptr_eq(
        &jane,
        &directory.lookup_address("instagram:jane.doe").unwrap()
    ));
    assert_eq!(directory.get("cust-2").unwrap().preferred_channel, None);
}

#[test]
fn rules_on_the_preferred_channel_name_real_channels_and_compare_by_equality_or_membership() {
    let with_rule = |when: &str| {
        DEFAULT_CONFIG.replacen(
            "[[rules]]",
            &format!("[[rules]]\nname = \"r\"\nwhen = '{when}'\nthen = {{ queue = \"care\" }}\n\n[[rules]]"),
            1,
        )
    };
    for good in [
        "caller.preferred_channel == \"chat\"",
        "caller.preferred_channel in [\"chat\", \"callback\"]",
        "\"email\" != caller.preferred_channel",
    ] {
        parse(&with_rule(good), Path::new("switchboard.toml"))
            .unwrap_or_else(|e| panic!("{good}: {:?}", e.lines()));
    }
    for (bad, expected) in [
        (
            "caller.preferred_channel == \"fax\"",
            "unknown channel \"fax\"",
        ),
        (
            "caller.preferred_channel > \"chat\"",
            "channels have no order",
        ),
    ] {
        let e = parse(&with_rule(bad), Path::new("switchboard.toml")).unwrap_err();
        assert!(
            e.lines().iter().any(|l| l.contains(expected)),
            "{bad}: {:?}",
            e.lines()
        );
    }
}
