//! Deterministic synthetic customers. The same seed and count give the same file, so the
//! shipped sample and benchmark inputs can be regenerated exactly.

use std::io::{self, Write};

/// The CSV header of `config/customers.csv`.
pub const HEADER: &str = "customer_id,name,phone_numbers,tier,preference,language,lifetime_value,influence,tags,attributes,preferred_agent";

/// Hand-written personas first: the README's tour and the tests call these numbers.
const PERSONAS: &[&str] = &[
    "C0000001,Maria Lopez,+12125550101,platinum,none,es,48200.00,62,loyalty-club,device_purchased=2025-09-14;plan=premium,agent-007",
    "C0000002,James Carter,+12125550102,gold,none,en,9100.50,35,,device_purchased=2023-02-01;plan=standard,",
    "C0000003,Priya Nair,+12125550103,concierge,none,en,210000.00,88,board-member;social-media,plan=enterprise,agent-001",
    "C0000004,Tom Becker,+12125550104,standard,always_operator,en,640.00,12,,device_purchased=2021-06-30;plan=basic,",
    "C0000005,Grace Kim,+12125550105,standard,get_it_done,en,1830.25,40,,device_purchased=2024-11-20;plan=standard,",
    "C0000006,Luis Ortega,+12125550106,gold,friendly_chat,es,12750.00,55,,device_purchased=2022-01-05;plan=premium,",
    "C0000007,Emma Walsh,+12125550107;+12125550108,standard,none,en,320.00,8,churn-risk,device_purchased=2020-03-17;plan=basic,",
    "C0000008,Oliver Hughes,+447700900123,gold,none,en-GB,15400.00,71,social-media,device_purchased=2025-01-09;plan=premium,",
];

/// US area codes for generated numbers (212 is left to the personas).
const AREA_CODES: &[u16] = &[
    201, 202, 203, 205, 206, 207, 208, 209, 210, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228,
    229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 276, 281, 301,
    302, 303, 304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323,
    325, 330, 331, 334, 336, 337, 339, 347, 351, 352, 360, 361, 385, 386, 401, 402, 404, 405, 406,
    407, 408, 409, 410, 412, 413, 414, 415, 417, 419, 423, 424, 425, 432,
];

const FIRST: &[&str] = &[
    "Aaliyah", "Adam", "Aisha", "Alex", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel",
    "Diego", "Elena", "Ethan", "Fatima", "Hana", "Hiro", "Isabel", "Jack", "Jamal", "Jin", "Julia",
    "Kofi", "Lena", "Leo", "Lucia", "Maya", "Mei", "Mohammed", "Nadia", "Noah", "Olga", "Omar",
    "Paul", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Yuki",
];

const LAST: &[&str] = &[
    "Abbott", "Alvarez", "Baker", "Brown", "Chang", "Cohen", "Dubois", "Evans", "Fischer",
    "Garcia", "Gupta", "Hansen", "Ito", "Johnson", "Khan", "Kowalski", "Lee", "Martin", "Mensah",
    "Miller", "Moreau", "Nguyen", "Novak", "Okafor", "Patel", "Reyes", "Rossi", "Schmidt", "Silva",
    "Smith", "Tanaka", "Taylor", "Wang", "Williams", "Wilson", "Young",
];

/// splitmix64: tiny, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The `i`-th generated US number. The first 100 per area code are in the 555-0100 to
/// 555-0199 range set aside for fiction; beyond that (scale tests only) numbers use
/// other valid exchanges.
fn number(i: u64) -> String {
    let codes = AREA_CODES.len() as u64;
    let area = AREA_CODES[(i % codes) as usize];
    let k = i / codes;
    if k < 100 {
        format!("+1{area}5550{:03}", 100 + k)
    } else {
        let k = k - 100;
        // Exchanges 200-999 except N11: line numbers 0000-9999 within each.
        let exchange = 200 + (k / 10_000) % 800;
        let exchange = if exchange % 100 == 11 {
            exchange + 1
        } else {
            exchange
        };
        format!("+1{area}{exchange}{:04}", k % 10_000)
    }
}

/// The first number of the `i`-th generated customer (after the personas), as
/// [`write_csv`] writes it.
pub fn customer_number(i: u64) -> String {
    number(2 * i)
}

/// Writes `count` customers (personas first) as CSV with a header.
pub fn write_csv(out: &mut impl Write, count: u64, seed: u64) -> io::Result<()> {
    writeln!(out, "{HEADER}")?;
    let personas = (PERSONAS.len() as u64).min(count);
    for row in &PERSONAS[..personas as usize] {
        writeln!(out, "{row}")?;
    }
    let mut rng = Rng(seed);
    for i in 0..count - personas {
        let id = personas + i + 1;
        let tier = match rng.below(100) {
            0..=69 => "standard",
            70..=89 => "gold",
            90..=97 => "platinum",
            _ => "concierge",
        };
        let preference = match rng.below(100) {
            0..=54 => "none",
            55..=69 => "always_operator",
            70..=84 => "get_it_done",
            _ => "friendly_chat",
        };
        let language = match rng.below(100) {
            0..=79 => "en",
            80..=94 => "es",
            _ => "fr",
        };
        let value = match tier {
            "standard" => 50 + rng.below(3_000),
            "gold" => 3_000 + rng.below(20_000),
            "platinum" => 20_000 + rng.below(80_000),
            _ => 100_000 + rng.below(400_000),
        };
        let cents = rng.below(100);
        let influence = (rng.below(60) + rng.below(41)).min(100);
        let mut numbers = number(2 * i);
        if rng.chance(10) {
            numbers.push(';');
            numbers.push_str(&number(2 * i + 1));
        }
        let mut tags = Vec::new();
        if rng.chance(8) {
            tags.push("churn-risk");
        }
        if influence > 80 {
            tags.push("social-media");
        }
        if rng.chance(5) {
            tags.push("new-customer");
        }
        let year = 2019 + rng.below(8);
        let month = 1 + rng.below(12);
        let day = 1 + rng.below(28);
        let plan = ["basic", "standard", "premium"][rng.below(3) as usize];
        let agent = if matches!(tier, "platinum" | "concierge") && rng.chance(40) {
            format!("agent-{:03}", 1 + rng.below(120))
        } else {
            String::new()
        };
        writeln!(
            out,
            "C{id:07},{} {},{numbers},{tier},{preference},{language},{value}.{cents:02},{influence},{},device_purchased={year}-{month:02}-{day:02};plan={plan},{agent}",
            rng.pick(FIRST),
            rng.pick(LAST),
            tags.join(";"),
        )?;
    }
    Ok(())
}
