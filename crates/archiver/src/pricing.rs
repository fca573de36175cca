//! What storing and retrieving cost, shown before anything is spent.
//!
//! Prices are data: a [`PriceTable`] holds one [`ClassPrices`] row per
//! storage class, each with its storage price, minimum billed duration,
//! per-object overhead, request price and one [`TierPrices`] row per
//! retrieval tier it offers. A class or a tier is added by adding a row;
//! the functions ([`PriceTable::storage`], [`PriceTable::retrieval`]) only
//! read rows.
//!
//! The figures are AWS's us-east-1 list prices as recorded in the project's
//! facts (2026). They are estimates for the user's judgement, printed with
//! [`PriceTable::as_of`]; the bill is AWS's. AWS bills storage and
//! retrieval per GB of 2^30 bytes, which is what [`GIB`] is here.
//!
//! ```
//! use archiver::pricing::{StorageClass, Tier, US_EAST_1_2026};
//!
//! // One million 100 KiB files in Deep Archive: as single objects or as 100 bundles.
//! let bytes = 1_000_000 * 100 * 1024;
//! let single = US_EAST_1_2026.storage(StorageClass::DeepArchive, 1_000_000, bytes, 1_000_000)?;
//! let bundled = US_EAST_1_2026.storage(StorageClass::DeepArchive, 100, bytes, 100)?;
//! assert!(single.upload_requests > 1000.0 * bundled.upload_requests);
//!
//! let r = US_EAST_1_2026.retrieval(StorageClass::GlacierVault, Tier::Bulk, 10, 1 << 30)?;
//! assert_eq!(r.usd, 0.0);
//! # Ok::<(), archiver::pricing::PricingError>(())
//! ```

// Byte and request counts become f64 for USD estimates; 52 bits of mantissa
// are exact up to 4 PiB and far more precise than any price estimate needs.
#![allow(clippy::cast_precision_loss)]

use std::fmt;
use std::time::Duration;

/// Bytes in one billed GB (AWS's GB is 2^30 bytes).
pub const GIB: f64 = 1_073_741_824.0;

/// Where archives are kept: the key of a [`ClassPrices`] row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageClass {
    /// The original Glacier vault API (priced like Flexible Retrieval).
    GlacierVault,
    /// S3 Glacier Flexible Retrieval (`StorageClass=GLACIER`).
    FlexibleRetrieval,
    /// S3 Glacier Deep Archive (`StorageClass=DEEP_ARCHIVE`).
    DeepArchive,
    /// S3 Glacier Instant Retrieval (`StorageClass=GLACIER_IR`): read at
    /// once, no restore.
    InstantRetrieval,
    /// S3 Standard: read at once, no minimum duration.
    S3Standard,
}

impl StorageClass {
    /// The classes a cost picture compares: `first` (a vault's own class),
    /// then the others a user might choose, each once.
    ///
    /// ```
    /// use archiver::pricing::StorageClass;
    /// let c = StorageClass::compared_with(StorageClass::DeepArchive);
    /// assert_eq!(c[0], StorageClass::DeepArchive);
    /// assert_eq!(c.len(), 4);
    /// ```
    pub fn compared_with(first: StorageClass) -> Vec<StorageClass> {
        let mut classes = vec![first];
        for c in [
            StorageClass::GlacierVault,
            StorageClass::DeepArchive,
            StorageClass::FlexibleRetrieval,
            StorageClass::InstantRetrieval,
        ] {
            if !classes.contains(&c) {
                classes.push(c);
            }
        }
        classes
    }

    /// The class a store location stores in: an `s3://` location's
    /// `class=` (default `DEEP_ARCHIVE`), a Glacier vault for everything
    /// else (local and memory stores are priced as the vault they stand in
    /// for).
    ///
    /// ```
    /// use archiver::pricing::StorageClass;
    /// assert_eq!(StorageClass::of_location("s3://b/p?class=GLACIER_IR"), StorageClass::InstantRetrieval);
    /// assert_eq!(StorageClass::of_location("s3://b"), StorageClass::DeepArchive);
    /// assert_eq!(StorageClass::of_location("glacier://us-east-1"), StorageClass::GlacierVault);
    /// ```
    pub fn of_location(location: &str) -> StorageClass {
        let Some(rest) = location.strip_prefix("s3://") else {
            return StorageClass::GlacierVault;
        };
        let class = rest
            .split_once('?')
            .map_or("", |(_, q)| q)
            .split('&')
            .find_map(|p| p.strip_prefix("class="))
            .unwrap_or("DEEP_ARCHIVE");
        match class.to_ascii_uppercase().as_str() {
            "GLACIER" => StorageClass::FlexibleRetrieval,
            "GLACIER_IR" => StorageClass::InstantRetrieval,
            "STANDARD" => StorageClass::S3Standard,
            _ => StorageClass::DeepArchive,
        }
    }
}

impl fmt::Display for StorageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageClass::GlacierVault => "Glacier vault",
            StorageClass::FlexibleRetrieval => "S3 Glacier Flexible Retrieval",
            StorageClass::DeepArchive => "S3 Glacier Deep Archive",
            StorageClass::InstantRetrieval => "S3 Glacier Instant Retrieval",
            StorageClass::S3Standard => "S3 Standard",
        })
    }
}

/// How fast a retrieval is served, and at what price: the key of a
/// [`TierPrices`] row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Tier {
    /// Minutes; Flexible Retrieval and vaults only.
    Expedited,
    /// Hours; the default.
    Standard,
    /// Many hours, cheapest.
    Bulk,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tier::Expedited => "expedited",
            Tier::Standard => "standard",
            Tier::Bulk => "bulk",
        })
    }
}

impl From<glacier_multipart::Tier> for Tier {
    fn from(t: glacier_multipart::Tier) -> Self {
        match t {
            glacier_multipart::Tier::Expedited => Tier::Expedited,
            glacier_multipart::Tier::Standard => Tier::Standard,
            glacier_multipart::Tier::Bulk => Tier::Bulk,
        }
    }
}

/// Billed bytes added to every stored object, beyond its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectOverhead {
    /// Bytes billed at the class's own storage price.
    pub class_bytes: u64,
    /// Bytes billed at the [`PriceTable::standard_gb_month`] price.
    pub standard_bytes: u64,
    /// Objects smaller than this are billed as this large (0: none).
    pub minimum_object_bytes: u64,
}

impl ObjectOverhead {
    /// No overhead.
    pub const NONE: ObjectOverhead = ObjectOverhead {
        class_bytes: 0,
        standard_bytes: 0,
        minimum_object_bytes: 0,
    };
}

/// Prices and delay of one retrieval tier of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TierPrices {
    /// The tier.
    pub tier: Tier,
    /// USD per GB retrieved.
    pub per_gb: f64,
    /// USD per 1,000 retrieval requests.
    pub per_1000_requests: f64,
    /// Typical shortest wait until the data can be downloaded.
    pub wait_min: Duration,
    /// Typical longest wait.
    pub wait_max: Duration,
}

/// Prices of one storage class: one row of a [`PriceTable`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassPrices {
    /// The class.
    pub class: StorageClass,
    /// USD per GB-month of data.
    pub storage_gb_month: f64,
    /// Minimum billed storage duration (an earlier delete is billed for the
    /// rest).
    pub minimum_days: u32,
    /// Billed overhead of each object.
    pub overhead: ObjectOverhead,
    /// USD per 1,000 PUT requests or multipart parts.
    pub put_per_1000: f64,
    /// The retrieval tiers the class offers (the classes read at once
    /// price every tier alike: a plain GET).
    pub retrieval: &'static [TierPrices],
    /// Whether a retrieval is billed for the whole object whatever range is
    /// read (S3 restores whole objects; a vault retrieves byte ranges).
    pub whole_object_retrieval: bool,
}

impl ClassPrices {
    /// The row of `tier`, if the class offers it.
    pub fn tier(&self, tier: Tier) -> Option<&TierPrices> {
        self.retrieval.iter().find(|t| t.tier == tier)
    }
}

/// A price list: one row per storage class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceTable {
    /// When and where these prices were read.
    pub as_of: &'static str,
    /// S3 Standard, USD per GB-month: the rate of
    /// [`ObjectOverhead::standard_bytes`].
    pub standard_gb_month: f64,
    /// The classes.
    pub classes: &'static [ClassPrices],
}

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

const fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

/// Each archived object in Flexible Retrieval or Deep Archive: 8 KB at S3
/// Standard rates and 32 KB at the archive class's rate.
const ARCHIVE_OVERHEAD: ObjectOverhead = ObjectOverhead {
    class_bytes: 32 * 1024,
    standard_bytes: 8 * 1024,
    minimum_object_bytes: 0,
};

const FLEXIBLE_TIERS: &[TierPrices] = &[
    TierPrices {
        tier: Tier::Expedited,
        per_gb: 0.03,
        per_1000_requests: 10.0,
        wait_min: minutes(1),
        wait_max: minutes(5),
    },
    TierPrices {
        tier: Tier::Standard,
        per_gb: 0.01,
        per_1000_requests: 0.05,
        wait_min: hours(3),
        wait_max: hours(5),
    },
    TierPrices {
        tier: Tier::Bulk,
        per_gb: 0.0,
        per_1000_requests: 0.0,
        wait_min: hours(5),
        wait_max: hours(12),
    },
];

const FLEXIBLE: ClassPrices = ClassPrices {
    class: StorageClass::FlexibleRetrieval,
    storage_gb_month: 0.0036,
    minimum_days: 90,
    overhead: ARCHIVE_OVERHEAD,
    put_per_1000: 0.03,
    retrieval: FLEXIBLE_TIERS,
    whole_object_retrieval: true,
};

/// A class read at once: every tier is the same GET.
const fn instant(per_gb: f64, per_1000_requests: f64) -> [TierPrices; 3] {
    const fn row(tier: Tier, per_gb: f64, per_1000_requests: f64) -> TierPrices {
        TierPrices {
            tier,
            per_gb,
            per_1000_requests,
            wait_min: Duration::ZERO,
            wait_max: Duration::ZERO,
        }
    }
    [
        row(Tier::Expedited, per_gb, per_1000_requests),
        row(Tier::Standard, per_gb, per_1000_requests),
        row(Tier::Bulk, per_gb, per_1000_requests),
    ]
}

const INSTANT_TIERS: [TierPrices; 3] = instant(0.03, 0.01);
const STANDARD_TIERS: [TierPrices; 3] = instant(0.0, 0.0004);

/// us-east-1 list prices as recorded in the project's facts (2026).
pub const US_EAST_1_2026: PriceTable = PriceTable {
    as_of: "AWS us-east-1 list prices, 2026",
    standard_gb_month: 0.023,
    classes: &[
        ClassPrices {
            class: StorageClass::GlacierVault,
            whole_object_retrieval: false,
            ..FLEXIBLE
        },
        FLEXIBLE,
        ClassPrices {
            class: StorageClass::DeepArchive,
            storage_gb_month: 0.000_99,
            minimum_days: 180,
            overhead: ARCHIVE_OVERHEAD,
            put_per_1000: 0.05,
            retrieval: &[
                TierPrices {
                    tier: Tier::Standard,
                    per_gb: 0.02,
                    per_1000_requests: 0.10,
                    wait_min: hours(0),
                    wait_max: hours(12),
                },
                TierPrices {
                    tier: Tier::Bulk,
                    per_gb: 0.0025,
                    per_1000_requests: 0.025,
                    wait_min: hours(0),
                    wait_max: hours(48),
                },
            ],
            whole_object_retrieval: true,
        },
        // Instant Retrieval: billed as at least 128 KB per object, no
        // per-object index overhead, retrieval per GB on every GET.
        ClassPrices {
            class: StorageClass::InstantRetrieval,
            storage_gb_month: 0.004,
            minimum_days: 90,
            overhead: ObjectOverhead {
                class_bytes: 0,
                standard_bytes: 0,
                minimum_object_bytes: 128 * 1024,
            },
            put_per_1000: 0.02,
            retrieval: &INSTANT_TIERS,
            whole_object_retrieval: false,
        },
        ClassPrices {
            class: StorageClass::S3Standard,
            storage_gb_month: 0.023,
            minimum_days: 0,
            overhead: ObjectOverhead::NONE,
            put_per_1000: 0.005,
            retrieval: &STANDARD_TIERS,
            whole_object_retrieval: false,
        },
    ],
};

/// A price the table does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PricingError {
    /// The table has no row for the class.
    #[error("no prices for {class} in {as_of}")]
    NoClass {
        /// The class.
        class: StorageClass,
        /// The table.
        as_of: &'static str,
    },
    /// The class does not offer the tier.
    #[error("{class} has no {tier} retrieval tier (use {offered})")]
    TierUnavailable {
        /// The class.
        class: StorageClass,
        /// The tier asked for.
        tier: Tier,
        /// The tiers it has, as text ("standard or bulk").
        offered: String,
    },
}

impl PriceTable {
    /// What deleting (or overwriting) `bytes` bytes in `objects` objects of
    /// `class` that have been stored `age_days` days costs on top: the rest
    /// of the class's minimum duration, billed at once (90 days for
    /// Flexible and Instant Retrieval, 180 for Deep Archive, nothing for
    /// S3 Standard or once the minimum has passed).
    ///
    /// ```
    /// use archiver::pricing::{StorageClass, US_EAST_1_2026};
    /// let gib = 1u64 << 30;
    /// let fee = US_EAST_1_2026.early_deletion(StorageClass::DeepArchive, 1, 100 * gib, 30)?;
    /// assert!((fee - 100.0 * 0.000_99 * 150.0 / 30.0).abs() < 0.01);
    /// assert_eq!(US_EAST_1_2026.early_deletion(StorageClass::DeepArchive, 1, gib, 200)?, 0.0);
    /// # Ok::<(), archiver::pricing::PricingError>(())
    /// ```
    pub fn early_deletion(
        &self,
        class: StorageClass,
        objects: u64,
        bytes: u64,
        age_days: u64,
    ) -> Result<f64, PricingError> {
        let p = self.class(class)?;
        let left = u64::from(p.minimum_days).saturating_sub(age_days);
        if left == 0 {
            return Ok(0.0);
        }
        let e = self.storage(class, objects, bytes, 0)?;
        Ok((e.data_per_month + e.overhead_per_month) * left as f64 / 30.0)
    }

    /// The row of `class`.
    pub fn class(&self, class: StorageClass) -> Result<&ClassPrices, PricingError> {
        self.classes
            .iter()
            .find(|c| c.class == class)
            .ok_or(PricingError::NoClass {
                class,
                as_of: self.as_of,
            })
    }

    /// What storing `objects` objects holding `bytes` bytes in `class` costs,
    /// uploaded with `requests` billed requests (PUTs plus multipart parts).
    /// With a minimum billed object size, every object is taken to be at
    /// least that large (an estimate from the average would need sizes).
    pub fn storage(
        &self,
        class: StorageClass,
        objects: u64,
        bytes: u64,
        requests: u64,
    ) -> Result<StorageEstimate, PricingError> {
        let p = self.class(class)?;
        let billed = bytes.max(objects.saturating_mul(p.overhead.minimum_object_bytes));
        let data_month = billed as f64 / GIB * p.storage_gb_month;
        let overhead_month = objects as f64
            * (p.overhead.class_bytes as f64 / GIB * p.storage_gb_month
                + p.overhead.standard_bytes as f64 / GIB * self.standard_gb_month);
        let upload_requests = requests as f64 / 1000.0 * p.put_per_1000;
        let months = f64::from(p.minimum_days) / 30.0;
        Ok(StorageEstimate {
            class,
            objects,
            bytes,
            requests,
            data_per_month: data_month,
            overhead_per_month: overhead_month,
            upload_requests,
            minimum_days: p.minimum_days,
            minimum_commitment: upload_requests + (data_month + overhead_month) * months,
        })
    }

    /// What retrieving `bytes` bytes in `requests` retrieval requests from
    /// `class` at `tier` costs, and how long it takes.
    pub fn retrieval(
        &self,
        class: StorageClass,
        tier: Tier,
        requests: u64,
        bytes: u64,
    ) -> Result<RetrievalEstimate, PricingError> {
        let p = self.class(class)?;
        let t = p.tier(tier).ok_or_else(|| PricingError::TierUnavailable {
            class,
            tier,
            offered: p
                .retrieval
                .iter()
                .map(|t| t.tier.to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        })?;
        let usd = bytes as f64 / GIB * t.per_gb + requests as f64 / 1000.0 * t.per_1000_requests;
        Ok(RetrievalEstimate {
            class,
            tier,
            requests,
            bytes,
            usd,
            wait_min: t.wait_min,
            wait_max: t.wait_max,
        })
    }
}

/// The cost picture of storing some data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageEstimate {
    /// The class.
    pub class: StorageClass,
    /// Objects (archives) stored.
    pub objects: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Billed upload requests.
    pub requests: u64,
    /// USD per month for the data.
    pub data_per_month: f64,
    /// USD per month for the per-object overhead.
    pub overhead_per_month: f64,
    /// USD, once, for the upload requests.
    pub upload_requests: f64,
    /// The class's minimum storage duration.
    pub minimum_days: u32,
    /// USD committed by uploading: requests plus the minimum duration.
    pub minimum_commitment: f64,
}

impl StorageEstimate {
    /// USD per month, data and overhead.
    pub fn per_month(&self) -> f64 {
        self.data_per_month + self.overhead_per_month
    }
}

/// The cost picture of a retrieval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetrievalEstimate {
    /// The class.
    pub class: StorageClass,
    /// The tier.
    pub tier: Tier,
    /// Retrieval requests (jobs).
    pub requests: u64,
    /// Bytes retrieved.
    pub bytes: u64,
    /// Estimated USD.
    pub usd: f64,
    /// Typical shortest wait.
    pub wait_min: Duration,
    /// Typical longest wait.
    pub wait_max: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: PriceTable = US_EAST_1_2026;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9_f64.max(b.abs() * 1e-9)
    }

    #[test]
    fn million_small_files_as_single_objects_versus_bundles() {
        // The facts' example: one million 100 KB files in Deep Archive.
        let files = 1_000_000u64;
        let bytes = files * 100 * 1024;
        let single = P
            .storage(StorageClass::DeepArchive, files, bytes, files)
            .unwrap();
        assert!(
            close(single.upload_requests, 50.0),
            "{}",
            single.upload_requests
        );
        assert!(
            single.overhead_per_month > single.data_per_month,
            "overhead {} should exceed data {}",
            single.overhead_per_month,
            single.data_per_month
        );
        // The same bytes as 100 bundles of about 1 GB: a fraction of a cent in PUTs.
        let bundled = P
            .storage(StorageClass::DeepArchive, 100, bytes, 100)
            .unwrap();
        assert!(close(bundled.upload_requests, 0.005));
        assert!(close(bundled.data_per_month, single.data_per_month));
        assert!(bundled.overhead_per_month < single.overhead_per_month / 1000.0);
    }

    #[test]
    fn storage_by_hand() {
        // 1 TiB in Flexible Retrieval, 1 object, 1 request.
        let e = P
            .storage(StorageClass::FlexibleRetrieval, 1, 1 << 40, 1)
            .unwrap();
        assert!(close(e.data_per_month, 1024.0 * 0.0036));
        let overhead = 32.0 * 1024.0 / GIB * 0.0036 + 8.0 * 1024.0 / GIB * 0.023;
        assert!(close(e.overhead_per_month, overhead));
        assert!(close(e.upload_requests, 0.00003));
        assert_eq!(e.minimum_days, 90);
        assert!(close(
            e.minimum_commitment,
            0.00003 + (1024.0 * 0.0036 + overhead) * 3.0
        ));
        let vault = P
            .storage(StorageClass::GlacierVault, 1, 1 << 40, 1)
            .unwrap();
        assert!(close(vault.data_per_month, e.data_per_month));
    }

    #[test]
    fn retrieval_by_tier() {
        let gib = 1u64 << 30;
        let e = P
            .retrieval(
                StorageClass::FlexibleRetrieval,
                Tier::Expedited,
                2,
                10 * gib,
            )
            .unwrap();
        assert!(close(e.usd, 10.0 * 0.03 + 2.0 * 0.01));
        assert_eq!(e.wait_max, Duration::from_secs(300));
        let e = P
            .retrieval(StorageClass::FlexibleRetrieval, Tier::Standard, 1000, gib)
            .unwrap();
        assert!(close(e.usd, 0.01 + 0.05));
        let e = P
            .retrieval(StorageClass::FlexibleRetrieval, Tier::Bulk, 1000, 100 * gib)
            .unwrap();
        assert!(close(e.usd, 0.0));
        let e = P
            .retrieval(StorageClass::DeepArchive, Tier::Bulk, 4, 4 * gib)
            .unwrap();
        assert!(close(e.usd, 4.0 * 0.0025 + 4.0 * 0.000_025));
        assert_eq!(e.wait_max, Duration::from_secs(48 * 3600));
        let err = P
            .retrieval(StorageClass::DeepArchive, Tier::Expedited, 1, 1)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "S3 Glacier Deep Archive has no expedited retrieval tier (use standard or bulk)"
        );
    }

    #[test]
    fn s3_classes_price_restores_whole_objects_and_early_deletes() {
        let t = US_EAST_1_2026;
        for c in [StorageClass::FlexibleRetrieval, StorageClass::DeepArchive] {
            assert!(t.class(c).unwrap().whole_object_retrieval, "{c}");
        }
        for c in [
            StorageClass::GlacierVault,
            StorageClass::InstantRetrieval,
            StorageClass::S3Standard,
        ] {
            assert!(!t.class(c).unwrap().whole_object_retrieval, "{c}");
        }
        // Instant classes: any tier, at once; Instant Retrieval pays per GB.
        let r = t
            .retrieval(StorageClass::InstantRetrieval, Tier::Bulk, 1, 1 << 30)
            .unwrap();
        assert!(close(r.usd, 0.03 + 0.01 / 1000.0) && r.wait_max.is_zero());
        let r = t
            .retrieval(StorageClass::S3Standard, Tier::Expedited, 1000, 1 << 30)
            .unwrap();
        assert!(close(r.usd, 0.0004));
        // Minimums: 90 days Flexible and Instant, 180 Deep, none Standard.
        let gib = 1u64 << 30;
        let fee = |c, days| t.early_deletion(c, 1, 30 * gib, days).unwrap();
        assert!(close(
            fee(StorageClass::InstantRetrieval, 0),
            30.0 * 0.004 * 3.0
        ));
        assert!(fee(StorageClass::FlexibleRetrieval, 60) > 0.0);
        assert!(close(fee(StorageClass::FlexibleRetrieval, 90), 0.0));
        assert!(fee(StorageClass::DeepArchive, 179) > 0.0);
        assert!(close(fee(StorageClass::S3Standard, 0), 0.0));
        // Small objects in Instant Retrieval are billed as 128 KiB.
        let e = t
            .storage(StorageClass::InstantRetrieval, 10, 10 * 1024, 10)
            .unwrap();
        assert!(close(e.data_per_month, 10.0 * 128.0 * 1024.0 / GIB * 0.004));
    }

    #[test]
    fn a_row_is_all_a_class_needs() {
        // A table with one more class, as the S3 classes were added.
        const ROWS: &[ClassPrices] = &[ClassPrices {
            class: StorageClass::DeepArchive,
            storage_gb_month: 1.0,
            minimum_days: 30,
            overhead: ObjectOverhead {
                class_bytes: 0,
                standard_bytes: 0,
                minimum_object_bytes: 128 * 1024,
            },
            put_per_1000: 1.0,
            retrieval: &[],
            whole_object_retrieval: true,
        }];
        let t = PriceTable {
            as_of: "test",
            standard_gb_month: 0.0,
            classes: ROWS,
        };
        // 1000 objects of 1 KiB billed as 128 KiB each.
        let e = t
            .storage(StorageClass::DeepArchive, 1000, 1000 * 1024, 1000)
            .unwrap();
        assert!(close(e.data_per_month, 1000.0 * 128.0 * 1024.0 / GIB));
        assert!(close(e.upload_requests, 1.0));
        assert!(matches!(
            t.storage(StorageClass::GlacierVault, 1, 1, 1),
            Err(PricingError::NoClass { .. })
        ));
        assert!(matches!(
            t.retrieval(StorageClass::DeepArchive, Tier::Bulk, 1, 1),
            Err(PricingError::TierUnavailable { .. })
        ));
    }
}
