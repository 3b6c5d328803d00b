//! The ids of a routing plan's parts (lines, menus, queues, rules) and sets of tiers:
//! small copyable words every layer uses, below the plan that gives them meaning.

use crate::customer::TierId;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u16);

        impl $name {
            pub fn index(self) -> usize {
                usize::from(self.0)
            }
        }
    };
}

id!(
    /// Index of a line in `RoutePlan::lines`.
    LineId
);
id!(
    /// Index of a menu in `RoutePlan::menus`.
    MenuId
);
id!(
    /// Index of a queue in `RoutePlan::queues`.
    QueueId
);
id!(
    /// Index of a rule in `RoutePlan::rules`, which is also its evaluation order.
    RuleId
);

/// A set of tiers as a bit mask (tiers are limited to [`MAX_TIERS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TierSet(pub u32);

pub const MAX_TIERS: usize = 32;

impl TierSet {
    pub fn contains(self, tier: TierId) -> bool {
        tier.0 < 32 && self.0 & (1 << tier.0) != 0
    }

    pub fn insert(&mut self, tier: TierId) {
        self.0 |= 1 << tier.0;
    }
}
