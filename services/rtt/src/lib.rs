//! The RTT service: realm stage-2 translation tables (Realm Translation
//! Tables, RMM spec 1.0 (Arm DEN0137 1.0-REL0) A5.5) and the DATA granules
//! mapped through them. It answers RMI_RTT_CREATE, RTT_DESTROY, RTT_FOLD,
//! RTT_READ_ENTRY, RTT_MAP_UNPROTECTED, RTT_UNMAP_UNPROTECTED,
//! RTT_INIT_RIPAS, DATA_CREATE, DATA_CREATE_UNKNOWN and DATA_DESTROY.
//!
//! The tables live in delegated granules in state RTT. The service owns
//! their contents and nothing else: granule states, locks and reference
//! counts belong to the granule service, realm parameters and the RIM to
//! the realm service; both are reached by message. Table contents are
//! read and written only inside [`Leases::with_realm`] closures.
//!
//! # Checks
//! Every command evaluates the failure conditions of its spec section and
//! reports the first that holds, in the order the spec lists them (which
//! satisfies every "failure condition ordering" the spec gives). Nothing
//! changes until every condition has passed: a failed command leaves the
//! GST, the tables, the RIM and the TLBs as they were.
//!
//! # Locking
//! Lock order (the one `rampart_ipc::granule` documents, deadlock-free
//! by construction): the RD; then the starting-level RTT the IPA selects,
//! and down the tree hand over hand (lock the child, then unlock the
//! parent); then the one granule the command targets (the new RTT of
//! RTT_CREATE, the DATA granule of DATA_CREATE/DATA_DESTROY, the child
//! RTT of RTT_DESTROY/RTT_FOLD). DATA_CREATE's NS source granule is
//! checked before the RD is locked, holding nothing else. A granule this
//! command already holds is never asked for again (it is in another
//! state, so the command fails with RMI_ERROR_INPUT instead of waiting on
//! itself), and a target whose state is already wrong is refused without
//! waiting for its lock (`lock_target`). Every lock is
//! released on every path before the reply.
//!
//! TF-RMM (rmm-spec-v1.0-rel0) instead locks {target, RD} together in
//! address order before the walk; the observable result is the same
//! because the target's checks are evaluated before the walk's RTT errors.
#![no_std]
#![forbid(unsafe_code)]

pub mod s2tt;

use rampart_ipc::granule::{GranuleProtocol, GranuleReply, GranuleRequest, GranuleState};
use rampart_ipc::lease::{GRANULE_SIZE, Granule, Leases};
use rampart_ipc::realm::{RealmInfo, RealmProtocol, RealmReply, RealmRequest, RealmState};
use rampart_ipc::rmi::{Command, Outputs, RmiError, RmiResult};
use rampart_ipc::rtt::{Lookup, RttProtocol, RttReply, RttRequest};
use rampart_ipc::{Server, Transport};
use s2tt::{ENTRIES, PAGE_LEVEL, Ripas, Rtte, is_aligned, map_size};

const GRANULE: u64 = GRANULE_SIZE as u64;
/// Without LPA2, output addresses are below 2^48 (the *_bound2 conditions).
const PA_LIMIT: u64 = 1 << 48;
/// RmiDataFlags: bit 0 is `measure`; bits `[63:1]` are SBZ.
const DATA_FLAG_MEASURE: u64 = 1;
/// Bytes of the NS source copied per lease pair by DATA_CREATE.
const COPY_CHUNK: usize = 1024;

/// Stage-2 TLB maintenance for one realm (VMID). The kernel implements it
/// with broadcast TLBIs; each call must be complete (DSB ISH) on return,
/// must order the table write before it (DSB ISHST first), and must also
/// drop combined stage-1+2 entries of the VMID (TLBI VMALLE1IS after the
/// stage-2 invalidations).
pub trait S2Tlb {
    /// The descriptor at `level` that translated `ipa` (a page, a block or
    /// a table entry) stopped being valid: invalidate every TLB and
    /// walk-cache entry for `ipa` (TLBI IPAS2E1IS, TTL hint = `level`).
    fn invalidate_ipa(&mut self, vmid: u16, ipa: u64, level: u8);

    /// A table covering `[ipa, ipa + size)` whose entries held valid leaf
    /// mappings was unhooked: invalidate every stage-2 translation in the
    /// range (per-page IPAS2E1IS, or VMALLS12E1IS for the VMID).
    fn invalidate_block(&mut self, vmid: u16, ipa: u64, size: u64);
}

/// How one RMI command ended, as the registers will carry it.
///
/// `RmiResult<Outputs>` has no outputs on failure, but three commands
/// return `top` with RMI_ERROR_RTT (RTT_DESTROY and DATA_DESTROY in X2,
/// RTT_UNMAP_UNPROTECTED in X1): those travel in `error_outputs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    pub result: RmiResult<Outputs>,
    /// X1-X4 when `result` is an error (zero except `top`).
    pub error_outputs: Outputs,
}

impl Completion {
    /// X0-X4.
    pub fn regs(&self) -> [u64; 5] {
        let (x0, Outputs([a, b, c, d])) = match self.result {
            Ok(out) => (rampart_ipc::rmi::SUCCESS, out),
            Err(e) => (e.reg(), self.error_outputs),
        };
        [x0, a, b, c, d]
    }
}

/// Why a command stopped: the status and the outputs it still returns.
struct Stop {
    error: RmiError,
    outputs: Outputs,
}

impl From<RmiError> for Stop {
    fn from(error: RmiError) -> Self {
        Stop {
            error,
            outputs: Outputs::NONE,
        }
    }
}

/// A broken internal invariant (a lease on a locked RMM granule failed, a
/// service did not answer, an RTT was not in state RTT). Host input cannot
/// cause one; it is reported as RMI_ERROR_INPUT rather than panicking.
fn fault() -> Stop {
    RmiError::Input.into()
}

type Step<T> = Result<T, Stop>;

fn input<T>() -> Step<T> {
    Err(RmiError::Input.into())
}

/// `level` (an Int64 register value) if it lies in `lo..=3`.
fn level_in(level: u64, lo: i8) -> Step<i8> {
    let level = level as i64;
    if level < i64::from(lo) || level > i64::from(PAGE_LEVEL) {
        return input();
    }
    Ok(level as i8)
}

/// The realm a command runs against, read under its RD lock.
struct Realm {
    rd: u64,
    info: RealmInfo,
}

impl Realm {
    fn start(&self) -> i8 {
        self.info.rtt_level_start
    }

    /// `ipa < 2^ipa_width`.
    fn in_range(&self, ipa: u64) -> bool {
        ipa < 1 << self.info.s2sz
    }

    /// AddrIsProtected: `ipa < 2^(ipa_width - 1)`.
    fn protected(&self, ipa: u64) -> bool {
        ipa < 1 << (self.info.s2sz - 1)
    }

    /// The starting-level table and index for `ipa`: with concatenated
    /// starting tables, entry `ipa >> shift` of the combined array.
    fn root(&self, ipa: u64) -> (u64, usize) {
        let n = ipa >> s2tt::shift(self.start());
        let table = n / ENTRIES as u64;
        (
            self.info.rtt_base + table * GRANULE,
            (n % ENTRIES as u64) as usize,
        )
    }
}

/// RealmInfo the walk can trust: 4 KB granule without LPA2 (start level
/// 0-3, IPA width 32-48), the starting tables cover the IPA space.
fn config_ok(info: &RealmInfo) -> bool {
    let sl = info.rtt_level_start;
    if !(0..=PAGE_LEVEL).contains(&sl)
        || !(32..=48).contains(&info.s2sz)
        || !(1..=16).contains(&info.rtt_num_start)
        || !info.rtt_base.is_multiple_of(GRANULE)
    {
        return false;
    }
    let shift = s2tt::shift(sl);
    let roots_needed = (1u64 << info.s2sz) >> shift;
    u32::from(info.s2sz) > shift && roots_needed <= u64::from(info.rtt_num_start) * ENTRIES as u64
}

/// Where an RTT walk (RttWalk, A5.5.10) stopped: at the target level or
/// at the first entry that is not TABLE. `rtt` is held locked.
struct Walk {
    level: i8,
    rtt: u64,
    index: usize,
    entry: Rtte,
}

const MAX_HELD: usize = 4;

/// The RTT service as one CPU runs it. `T` reaches the granule and realm
/// services, `L` maps granules, `B` maintains the stage-2 TLBs.
pub struct RttService<T, L, B> {
    ipc: T,
    leases: L,
    tlb: B,
    held: [u64; MAX_HELD],
    held_count: usize,
}

impl<T, L, B> RttService<T, L, B>
where
    T: Transport<GranuleProtocol> + Transport<RealmProtocol>,
    L: Leases,
    B: S2Tlb,
{
    pub fn new(ipc: T, leases: L, tlb: B) -> Self {
        Self {
            ipc,
            leases,
            tlb,
            held: [0; MAX_HELD],
            held_count: 0,
        }
    }

    /// Runs one RMI command. Commands other than the ten this service
    /// answers get RMI_ERROR_INPUT.
    pub fn command(&mut self, command: Command) -> Completion {
        let step = match command {
            Command::RttCreate {
                rd,
                rtt,
                ipa,
                level,
            } => self.rtt_create(rd, rtt, ipa, level),
            Command::RttDestroy { rd, ipa, level } => self.rtt_destroy(rd, ipa, level),
            Command::RttFold { rd, ipa, level } => self.rtt_fold(rd, ipa, level),
            Command::RttReadEntry { rd, ipa, level } => self.rtt_read_entry(rd, ipa, level),
            Command::RttMapUnprotected {
                rd,
                ipa,
                level,
                desc,
            } => self.rtt_map_unprotected(rd, ipa, level, desc),
            Command::RttUnmapUnprotected { rd, ipa, level } => {
                self.rtt_unmap_unprotected(rd, ipa, level)
            }
            Command::RttInitRipas { rd, base, top } => self.rtt_init_ripas(rd, base, top),
            Command::DataCreate {
                rd,
                data,
                ipa,
                src,
                flags,
            } => self.data_create(rd, data, ipa, Some((src, flags))),
            Command::DataCreateUnknown { rd, data, ipa } => self.data_create(rd, data, ipa, None),
            Command::DataDestroy { rd, ipa } => self.data_destroy(rd, ipa),
            _ => input(),
        };
        self.release_all();
        match step {
            Ok(out) => Completion {
                result: Ok(out),
                error_outputs: Outputs::NONE,
            },
            Err(stop) => Completion {
                result: Err(stop.error),
                error_outputs: stop.outputs,
            },
        }
    }

    /// True when the `count` starting-level tables at `rtt_base` are all
    /// RTTs that are not live (reference count 0: no TABLE and no ASSIGNED
    /// entry, A5.5.8), so the realm may be destroyed (A2.1.4). The caller
    /// holds the RD, which holds the tables.
    pub fn roots_unused(&mut self, rtt_base: u64, count: u8) -> bool {
        (0..u64::from(count)).all(|i| {
            matches!(
                self.granule(GranuleRequest::Query {
                    addr: rtt_base + i * GRANULE
                }),
                Some(GranuleReply::Info {
                    state: GranuleState::Rtt,
                    refcount: 0
                })
            )
        })
    }

    /// Fills the starting-level tables of a new realm (REALM_CREATE,
    /// B4.3.9.3): every Protected IPA UNASSIGNED with RIPAS EMPTY, every
    /// other entry UNASSIGNED_NS. The caller holds the tables locked.
    pub fn init_roots(&mut self, rtt_base: u64, count: u8, level: i8, s2sz: u8) -> bool {
        let info = RealmInfo {
            state: RealmState::New,
            s2sz,
            rtt_level_start: level,
            rtt_num_start: count,
            rtt_base,
            hash: rampart_ipc::realm::HashAlgo::Sha256,
            vmid: 0,
            rec_count: 0,
        };
        if !config_ok(&info) {
            return false;
        }
        let protected_top = 1u64 << (s2sz - 1);
        let shift = s2tt::shift(level);
        (0..u64::from(count)).all(|i| {
            self.leases
                .with_realm(rtt_base + i * GRANULE, |g| {
                    for (j, desc) in g.0.iter_mut().enumerate() {
                        let ipa = (i * ENTRIES as u64 + j as u64) << shift;
                        let entry = if ipa < protected_top {
                            Rtte::Unassigned(Ripas::Empty)
                        } else {
                            Rtte::UnassignedNs
                        };
                        *desc = entry.encode(level);
                    }
                })
                .is_ok()
        })
    }

    // ---- RMI commands ----------------------------------------------------

    /// RMI_RTT_CREATE (B4.3.15; unfolding A5.5.7).
    ///
    /// Failure conditions, in order: rd_align/rd_bound/rd_state,
    /// level_bound (`start+1 <= level <= 3`), ipa_align (to `level-1`),
    /// ipa_bound, rtt_align/rtt_bound/rtt_state (DELEGATED), rtt_bound2 —
    /// all RMI_ERROR_INPUT — then rtt_walk (walk to `level-1` stopped
    /// short) and rtte_state (the parent entry is already TABLE), both
    /// (RMI_ERROR_RTT, walk.level).
    ///
    /// The new table inherits the parent entry (A5.5.7): UNASSIGNED* and
    /// UNASSIGNED_NS are copied to all 512 entries (parent refcount +1);
    /// an ASSIGNED block becomes 512 contiguous ASSIGNED entries of its
    /// RIPAS (child refcount 512, the parent keeps its 1); an ASSIGNED_NS
    /// block becomes 512 contiguous ASSIGNED_NS entries with its
    /// attributes (parent +1, NS entries are not counted). A valid block
    /// is replaced break-before-make.
    fn rtt_create(&mut self, rd: u64, rtt: u64, ipa: u64, level: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        let level = level_in(level, realm.start() + 1)?;
        let parent_level = level - 1;
        if !is_aligned(ipa, parent_level) || !realm.in_range(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, parent_level)?;
        self.lock_target(rtt, GranuleState::Delegated)?;
        if rtt >= PA_LIMIT {
            return input();
        }
        if walk.level < parent_level || matches!(walk.entry, Rtte::Table(_)) {
            return Err(RmiError::Rtt(walk.level as u8).into());
        }

        let parent = walk.entry;
        let size = map_size(level);
        let (child_refs, parent_refs) = match parent {
            Rtte::Assigned { .. } => (ENTRIES as i64, 0),
            _ => (0, 1),
        };
        self.leases
            .with_realm(rtt, |g| {
                for (i, desc) in g.0.iter_mut().enumerate() {
                    let offset = i as u64 * size;
                    let entry = match parent {
                        Rtte::Assigned { pa, ripas } => Rtte::Assigned {
                            pa: pa + offset,
                            ripas,
                        },
                        Rtte::AssignedNs { pa, attrs } => Rtte::AssignedNs {
                            pa: pa + offset,
                            attrs,
                        },
                        other => other,
                    };
                    *desc = entry.encode(level);
                }
            })
            .map_err(|_| fault())?;
        self.set_state(rtt, GranuleState::Rtt)?;
        if child_refs != 0 {
            self.add_ref(rtt, child_refs)?;
        }
        if parent_refs != 0 {
            self.add_ref(walk.rtt, parent_refs)?;
        }
        if parent.is_valid() {
            // Break-before-make: the block leaves the TLBs before the
            // table that maps the same memory in smaller pieces appears.
            self.write(walk.rtt, walk.index, 0)?;
            self.tlb
                .invalidate_ipa(realm.info.vmid, ipa, parent_level as u8);
        }
        self.write(walk.rtt, walk.index, Rtte::Table(rtt).encode(parent_level))?;
        Ok(Outputs::NONE)
    }

    /// RMI_RTT_DESTROY (B4.3.16; A5.5.9). Outputs X1 = rtt, X2 = top.
    ///
    /// Failure conditions, in order: rd_*, level_bound (`start+1 <= level
    /// <= 3`), ipa_align (to `level-1`), ipa_bound — RMI_ERROR_INPUT, top 0
    /// — then rtt_walk and rtte_state (parent entry not TABLE), both
    /// (RMI_ERROR_RTT, walk.level) with top = RttSkipNonLiveEntries, then
    /// rtt_live (the child has an ASSIGNED or TABLE entry: refcount != 0),
    /// (RMI_ERROR_RTT, level) with top = ipa.
    ///
    /// The parent entry becomes UNASSIGNED, RIPAS DESTROYED (Protected IPA)
    /// or UNASSIGNED_NS (Unprotected IPA; the child may still hold
    /// ASSIGNED_NS entries, so the whole range is invalidated); the child
    /// is scrubbed and goes back to DELEGATED.
    fn rtt_destroy(&mut self, rd: u64, ipa: u64, level: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        let level = level_in(level, realm.start() + 1)?;
        let parent_level = level - 1;
        if !is_aligned(ipa, parent_level) || !realm.in_range(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, parent_level)?;
        let child = match walk.entry {
            Rtte::Table(child) if walk.level == parent_level => child,
            _ => return Err(self.with_top(RmiError::Rtt(walk.level as u8), &walk, ipa, 1)),
        };
        self.lock(child, GranuleState::Rtt).map_err(|_| fault())?;
        if self.refcount(child)? != 0 {
            return Err(Stop {
                error: RmiError::Rtt(level as u8),
                outputs: Outputs::two(0, ipa),
            });
        }

        let protected = realm.protected(ipa);
        let unhooked = if protected {
            Rtte::Unassigned(Ripas::Destroyed)
        } else {
            Rtte::UnassignedNs
        };
        self.add_ref(walk.rtt, -1)?;
        self.write(walk.rtt, walk.index, unhooked.encode(parent_level))?;
        if protected {
            // A non-live protected table maps nothing: only the walk
            // caches know it.
            self.tlb
                .invalidate_ipa(realm.info.vmid, ipa, parent_level as u8);
        } else {
            self.tlb
                .invalidate_block(realm.info.vmid, ipa, map_size(parent_level));
        }
        self.set_state(child, GranuleState::Delegated)?;
        let top = self.skip_non_live(&walk, ipa)?;
        Ok(Outputs::two(child, top))
    }

    /// RMI_RTT_FOLD (B4.3.17; homogeneity and RttFold A5.5.6). Output X1 =
    /// the RTT destroyed.
    ///
    /// Failure conditions, in order: rd_*, level_bound (`start+1 <= level
    /// <= 3`), ipa_align (to `level-1`), ipa_bound — RMI_ERROR_INPUT — then
    /// rtt_walk and rtte_state (parent entry not TABLE), (RMI_ERROR_RTT,
    /// walk.level), then rtt_homo, (RMI_ERROR_RTT, level).
    ///
    /// Homogeneous: all UNASSIGNED of one RIPAS; all UNASSIGNED_NS; or (at
    /// level 2 or 3 only) all ASSIGNED of one RIPAS / all ASSIGNED_NS with
    /// identical attributes, contiguous from an address aligned to the
    /// parent's entry size. TF-RMM rel0 answers a level-1 table of 1 GB
    /// blocks with (RMI_ERROR_RTT, 0); the spec's RttIsHomogeneous is
    /// false there, so this returns rtt_homo's (RMI_ERROR_RTT, 1).
    ///
    /// Refcounts: folding to an ASSIGNED block moves the child's 512 into
    /// the parent's existing 1 for the TABLE entry; folding to anything
    /// else drops the parent's count by one.
    fn rtt_fold(&mut self, rd: u64, ipa: u64, level: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        let level = level_in(level, realm.start() + 1)?;
        let parent_level = level - 1;
        if !is_aligned(ipa, parent_level) || !realm.in_range(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, parent_level)?;
        let child = match walk.entry {
            Rtte::Table(child) if walk.level == parent_level => child,
            _ => return Err(RmiError::Rtt(walk.level as u8).into()),
        };
        self.lock(child, GranuleState::Rtt).map_err(|_| fault())?;
        let folded = self
            .leases
            .with_realm(child, |g| s2tt::fold(&g.0, level))
            .map_err(|_| fault())?;
        let refs = self.refcount(child)?;
        let Some(folded) = folded else {
            return Err(RmiError::Rtt(level as u8).into());
        };
        let child_refs = if folded.is_counted() {
            ENTRIES as u64
        } else {
            0
        };
        if refs != child_refs {
            // The count disagrees with the contents: not foldable.
            return Err(RmiError::Rtt(level as u8).into());
        }

        if folded.is_counted() {
            self.add_ref(child, -(ENTRIES as i64))?;
        } else {
            self.add_ref(walk.rtt, -1)?;
        }
        if folded.is_valid() {
            // Break-before-make: the pages of the table leave the TLBs
            // before the block that maps the same memory appears.
            self.write(walk.rtt, walk.index, 0)?;
            self.tlb
                .invalidate_block(realm.info.vmid, ipa, map_size(parent_level));
            self.write(walk.rtt, walk.index, folded.encode(parent_level))?;
        } else {
            self.write(walk.rtt, walk.index, folded.encode(parent_level))?;
            self.tlb
                .invalidate_ipa(realm.info.vmid, ipa, parent_level as u8);
        }
        self.set_state(child, GranuleState::Delegated)?;
        Ok(Outputs::one(child))
    }

    /// RMI_RTT_READ_ENTRY (B4.3.20). Outputs X1 = walk level, X2 =
    /// RmiRttEntryState, X3 = descriptor, X4 = RmiRipas.
    ///
    /// Failure conditions (all RMI_ERROR_INPUT): rd_*, level_bound
    /// (`start <= level <= 3`), ipa_align (to `level`), ipa_bound.
    ///
    /// Per B4.3.20.3: UNASSIGNED(_NS) report no address or attributes;
    /// ASSIGNED and TABLE report the address only (for every RIPAS: TF-RMM
    /// rel0 returns 0 for ASSIGNED_DESTROYED, fixed later upstream);
    /// ASSIGNED_NS reports the address, MemAttr and S2AP. The RIPAS of
    /// unprotected and TABLE entries reads as EMPTY.
    fn rtt_read_entry(&mut self, rd: u64, ipa: u64, level: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        let level = level_in(level, realm.start())?;
        if !is_aligned(ipa, level) || !realm.in_range(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, level)?;
        let (state, desc, ripas) = walk.entry.read();
        Ok(Outputs([walk.level as u64, state, desc, ripas]))
    }

    /// RMI_RTT_MAP_UNPROTECTED (B4.3.19; attributes A5.5.11).
    ///
    /// Failure conditions, in order: attr_valid, rd_*, level_bound,
    /// addr_align, addr_bound, ipa_align, ipa_bound (Unprotected and below
    /// 2^ipa_width) — all RMI_ERROR_INPUT — then rtt_walk and rtte_state
    /// (not UNASSIGNED_NS), (RMI_ERROR_RTT, walk.level). The RD is locked
    /// first (the RD checks precede the level/descriptor checks here; all
    /// are RMI_ERROR_INPUT, so the order is not observable).
    ///
    /// level_bound is RttLevelIsBlockOrPage(rd, level): a block or page
    /// level of this realm's tree, `max(1, start) <= level <= 3`. (TF-RMM
    /// rel0 accepts `1 <= level < start` and fails it with RMI_ERROR_RTT.)
    ///
    /// The entry gets the host's address, `MemAttr[2:0]` and S2AP, plus
    /// AF, XN, NS and SH (Inner Shareable for cacheable MemAttr, Outer
    /// otherwise). No reference is taken on the NS granule.
    fn rtt_map_unprotected(&mut self, rd: u64, ipa: u64, level: u64, desc: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        let level = level_in(level, realm.start().max(1))?;
        if !s2tt::ns_desc_valid(desc, level)
            || !is_aligned(ipa, level)
            || !realm.in_range(ipa)
            || realm.protected(ipa)
        {
            return input();
        }
        let walk = self.walk(&realm, ipa, level)?;
        if walk.level < level || walk.entry != Rtte::UnassignedNs {
            return Err(RmiError::Rtt(walk.level as u8).into());
        }
        self.write(walk.rtt, walk.index, s2tt::ns_entry(desc).encode(level))?;
        Ok(Outputs::NONE)
    }

    /// RMI_RTT_UNMAP_UNPROTECTED (B4.3.22). Output X1 = top.
    ///
    /// Failure conditions, in order: rd_*, level_bound (`max(1, start) <=
    /// level <= 3`), ipa_align, ipa_bound (Unprotected) — RMI_ERROR_INPUT,
    /// top 0 — then rtt_walk and rtte_state (not ASSIGNED_NS),
    /// (RMI_ERROR_RTT, walk.level) with top = RttSkipNonLiveEntries.
    fn rtt_unmap_unprotected(&mut self, rd: u64, ipa: u64, level: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        let level = level_in(level, realm.start().max(1))?;
        if !is_aligned(ipa, level) || !realm.in_range(ipa) || realm.protected(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, level)?;
        if walk.level < level || !matches!(walk.entry, Rtte::AssignedNs { .. }) {
            return Err(self.with_top(RmiError::Rtt(walk.level as u8), &walk, ipa, 0));
        }
        self.write(walk.rtt, walk.index, Rtte::UnassignedNs.encode(level))?;
        self.tlb.invalidate_ipa(realm.info.vmid, ipa, level as u8);
        let top = self.skip_non_live(&walk, ipa)?;
        Ok(Outputs::one(top))
    }

    /// RMI_RTT_INIT_RIPAS (B4.3.18; RIM extension B4.3.18.4). Output X1 =
    /// out_top.
    ///
    /// Failure conditions, in the spec's listed order: rd_* (INPUT),
    /// size_valid (`top <= base`, INPUT), top_bound (`top - 4K` not
    /// Protected, INPUT), realm_state (not NEW, RMI_ERROR_REALM), base_align
    /// (base not aligned to walk.level) and rtte_state (not UNASSIGNED),
    /// (RMI_ERROR_RTT, walk.level), top_gran_align (INPUT), no_progress
    /// (RMI_ERROR_RTT, walk.level).
    ///
    /// TF-RMM rel0 checks base's and top's granule alignment as INPUT
    /// before the realm state; the spec makes an unaligned base a
    /// base_align failure and orders top_gran_align only before
    /// no_progress, which this follows.
    ///
    /// From the walk's entry on, within its table, every whole entry below
    /// `top` that is UNASSIGNED with RIPAS EMPTY or RAM becomes RIPAS RAM
    /// and extends the RIM by one RmmMeasurementDescriptorRipas; the scan
    /// stops at the first other entry. out_top is the end of the last one.
    fn rtt_init_ripas(&mut self, rd: u64, base: u64, top: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        if top <= base {
            return input();
        }
        match top.checked_sub(GRANULE) {
            Some(last) if realm.protected(last) => {}
            _ => return input(),
        }
        if realm.info.state != RealmState::New {
            return Err(RmiError::Realm(0).into());
        }
        let walk = self.walk(&realm, base, PAGE_LEVEL)?;
        let level = walk.level;
        if !is_aligned(base, level) || !matches!(walk.entry, Rtte::Unassigned(_)) {
            return Err(RmiError::Rtt(level as u8).into());
        }
        if !top.is_multiple_of(GRANULE) {
            return input();
        }
        let size = map_size(level);
        let first = walk.index;
        let count = self
            .leases
            .with_realm(walk.rtt, |g| {
                g.0[first..]
                    .iter()
                    .zip(1u64..)
                    .take_while(|&(&desc, n)| {
                        base + n * size <= top
                            && matches!(
                                Rtte::decode(desc, level),
                                Rtte::Unassigned(Ripas::Empty | Ripas::Ram)
                            )
                    })
                    .count()
            })
            .map_err(|_| fault())?;
        if count == 0 {
            return Err(RmiError::Rtt(level as u8).into());
        }
        for i in 0..count as u64 {
            let entry = base + i * size;
            let measure = RealmRequest::MeasureRipas {
                rd: realm.rd,
                base: entry,
                top: entry + size,
            };
            if self.realm(measure) != Some(RealmReply::Done) {
                return Err(fault());
            }
        }
        self.leases
            .with_realm(walk.rtt, |g| {
                for desc in &mut g.0[first..first + count] {
                    *desc = Rtte::Unassigned(Ripas::Ram).encode(level);
                }
            })
            .map_err(|_| fault())?;
        Ok(Outputs::one(base + count as u64 * size))
    }

    /// RMI_DATA_CREATE (B4.3.1; RIM B4.3.1.4) when `src` is
    /// `Some((src, flags))`, RMI_DATA_CREATE_UNKNOWN (B4.3.2) when `None`.
    ///
    /// Failure conditions, in order: (DATA_CREATE only) flags with a bit
    /// other than `measure` set (RmiDataFlags `[63:1]` are SBZ; TF-RMM takes
    /// only 0 and 1), src_align, src_bound (not a delegable granule the GST
    /// tracks as UNDELEGATED), src_pas (read faults); data_align,
    /// data_bound, data_state (DELEGATED), data_bound2; rd_*; ipa_align,
    /// ipa_bound (Protected) — all RMI_ERROR_INPUT — then (DATA_CREATE
    /// only) realm_state (not NEW, RMI_ERROR_REALM), then rtt_walk (no
    /// level-3 table) and rtte_state (not UNASSIGNED, any RIPAS),
    /// (RMI_ERROR_RTT, walk.level).
    ///
    /// DATA_CREATE copies the 4 KB from `src`, extends the RIM (the content
    /// hash only with RMI_MEASURE_CONTENT) and maps the granule ASSIGNED,
    /// RIPAS RAM. DATA_CREATE_UNKNOWN maps the (zero, DELEGATED) granule
    /// ASSIGNED keeping the entry's RIPAS, measures nothing and accepts
    /// any realm state. The DATA granule counts in its level-3 RTT.
    ///
    /// The source is copied into the locked DATA granule before the realm
    /// state and walk results are judged (so that src_pas outranks them
    /// without a second lease); any failure after the copy scrubs the
    /// granule back to zero before it is unlocked.
    fn data_create(
        &mut self,
        rd: u64,
        data: u64,
        ipa: u64,
        src: Option<(u64, u64)>,
    ) -> Step<Outputs> {
        if let Some((src, flags)) = src {
            if flags & !DATA_FLAG_MEASURE != 0 {
                return input();
            }
            // Nothing is held yet: waiting on this lock cannot deadlock.
            self.lock(src, GranuleState::Undelegated)?;
            self.unlock(src);
        }
        let realm = self.open_realm(rd)?;
        if !ipa.is_multiple_of(GRANULE) || !realm.protected(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, PAGE_LEVEL)?;
        self.lock_target(data, GranuleState::Delegated)?;
        if data >= PA_LIMIT {
            return input();
        }
        let result = self.data_create_locked(&realm, data, ipa, src, &walk);
        if result.is_err() && src.is_some() {
            // Back to the zero content every DELEGATED granule has.
            self.leases
                .with_realm(data, |g| *g = Granule::ZERO)
                .map_err(|_| fault())?;
        }
        result
    }

    fn data_create_locked(
        &mut self,
        realm: &Realm,
        data: u64,
        ipa: u64,
        src: Option<(u64, u64)>,
        walk: &Walk,
    ) -> Step<Outputs> {
        if let Some((src, _)) = src {
            self.copy_from_ns(src, data)?;
            if realm.info.state != RealmState::New {
                return Err(RmiError::Realm(0).into());
            }
        }
        if walk.level < PAGE_LEVEL {
            return Err(RmiError::Rtt(walk.level as u8).into());
        }
        let Rtte::Unassigned(ripas) = walk.entry else {
            return Err(RmiError::Rtt(walk.level as u8).into());
        };
        let ripas = match src {
            Some((_, flags)) => {
                let measure = RealmRequest::MeasureData {
                    rd: realm.rd,
                    data,
                    ipa,
                    measure_content: flags & DATA_FLAG_MEASURE != 0,
                };
                if self.realm(measure) != Some(RealmReply::Done) {
                    return Err(fault());
                }
                Ripas::Ram
            }
            None => ripas,
        };
        self.set_state(data, GranuleState::Data)?;
        self.add_ref(walk.rtt, 1)?;
        let entry = Rtte::Assigned { pa: data, ripas };
        self.write(walk.rtt, walk.index, entry.encode(PAGE_LEVEL))?;
        Ok(Outputs::NONE)
    }

    /// Copies the NS granule `src` into the locked DATA granule `data`; a
    /// fault on the NS side (src_pas) is RMI_ERROR_INPUT.
    fn copy_from_ns(&mut self, src: u64, data: u64) -> Step<()> {
        let mut chunk = [0u8; COPY_CHUNK];
        for offset in (0..GRANULE_SIZE).step_by(COPY_CHUNK) {
            self.leases
                .read_ns(src, offset, &mut chunk)
                .map_err(|_| Stop::from(RmiError::Input))?;
            self.leases
                .with_realm(data, |g| {
                    g.bytes_mut()[offset..offset + COPY_CHUNK].copy_from_slice(&chunk);
                })
                .map_err(|_| fault())?;
        }
        Ok(())
    }

    /// RMI_DATA_DESTROY (B4.3.3). Outputs X1 = data, X2 = top.
    ///
    /// Failure conditions, in order: rd_*, ipa_align, ipa_bound
    /// (Protected) — RMI_ERROR_INPUT, top 0 — then rtt_walk and rtte_state
    /// (not ASSIGNED), (RMI_ERROR_RTT, walk.level) with top =
    /// RttSkipNonLiveEntries (== ipa for a block at a lower level). No
    /// realm-state condition.
    ///
    /// The entry becomes UNASSIGNED; RIPAS RAM becomes DESTROYED, EMPTY
    /// and DESTROYED stay (success condition ripas_ram). A valid mapping
    /// leaves the TLBs before the granule is scrubbed and returned to
    /// DELEGATED.
    fn data_destroy(&mut self, rd: u64, ipa: u64) -> Step<Outputs> {
        let realm = self.open_realm(rd)?;
        if !ipa.is_multiple_of(GRANULE) || !realm.protected(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, PAGE_LEVEL)?;
        let (data, ripas) = match walk.entry {
            Rtte::Assigned { pa, ripas } if walk.level == PAGE_LEVEL => (pa, ripas),
            _ => return Err(self.with_top(RmiError::Rtt(walk.level as u8), &walk, ipa, 1)),
        };
        self.lock(data, GranuleState::Data).map_err(|_| fault())?;
        let ripas = match ripas {
            Ripas::Ram => Ripas::Destroyed,
            other => other,
        };
        self.add_ref(walk.rtt, -1)?;
        self.write(
            walk.rtt,
            walk.index,
            Rtte::Unassigned(ripas).encode(PAGE_LEVEL),
        )?;
        if walk.entry.is_valid() {
            self.tlb
                .invalidate_ipa(realm.info.vmid, ipa, PAGE_LEVEL as u8);
        }
        self.set_state(data, GranuleState::Delegated)?;
        let top = self.skip_non_live(&walk, ipa)?;
        Ok(Outputs::two(data, top))
    }

    // ---- realm-side queries (RSI calls and realm aborts) -------------------

    /// What backs Protected IPA `ipa` (granule aligned): the PA when it is
    /// ASSIGNED with RIPAS RAM, else the entry's RIPAS. With `pin` the
    /// DATA granule stays locked for the caller. None: not a live realm,
    /// or `ipa` unaligned or not Protected.
    pub fn lookup(&mut self, rd: u64, ipa: u64, pin: bool) -> Option<Lookup> {
        let found = self.lookup_locked(rd, ipa, pin);
        self.release_all();
        found.ok()
    }

    fn lookup_locked(&mut self, rd: u64, ipa: u64, pin: bool) -> Step<Lookup> {
        let realm = self.open_realm(rd)?;
        if !ipa.is_multiple_of(GRANULE) || !realm.protected(ipa) {
            return input();
        }
        let walk = self.walk(&realm, ipa, PAGE_LEVEL)?;
        let (pa, ripas) = match walk.entry {
            Rtte::Assigned {
                pa,
                ripas: Ripas::Ram,
            } => (Some(pa + (ipa & (map_size(walk.level) - 1))), Ripas::Ram),
            Rtte::Assigned { ripas, .. } | Rtte::Unassigned(ripas) => (None, ripas),
            _ => (None, Ripas::Empty),
        };
        if let (true, Some(data)) = (pin, pa) {
            // RD, RTT, then DATA: the lock order. The pin outlives the
            // command, so it is not tracked for release.
            self.lock(data, GranuleState::Data).map_err(|_| fault())?;
            self.held_count -= 1;
        }
        Ok(Lookup {
            pa,
            ripas: ripas as u8,
            level: walk.level,
        })
    }

    /// RSI_IPA_STATE_GET's scan (B5.3.?): from `base` (granule aligned,
    /// Protected), the RIPAS of the entry there and the end of the run of
    /// entries with the same RIPAS in its table, capped at `end`. An
    /// ASSIGNED entry reports its RIPAS like an UNASSIGNED one.
    pub fn ripas_run(&mut self, rd: u64, base: u64, end: u64) -> Option<(u64, u8)> {
        let found = self.ripas_run_locked(rd, base, end);
        self.release_all();
        found.ok()
    }

    fn ripas_run_locked(&mut self, rd: u64, base: u64, end: u64) -> Step<(u64, u8)> {
        let realm = self.open_realm(rd)?;
        let walk = self.walk(&realm, base, PAGE_LEVEL)?;
        let level = walk.level;
        let size = map_size(level);
        let start = base & !(size - 1);
        let ripas_of = |desc: u64| match Rtte::decode(desc, level) {
            Rtte::Assigned { ripas, .. } | Rtte::Unassigned(ripas) => Some(ripas),
            _ => None,
        };
        let (count, ripas) = self
            .leases
            .with_realm(walk.rtt, |g| {
                let Some(first) = ripas_of(g.0[walk.index]) else {
                    return (0, Ripas::Empty);
                };
                let mut count = 0u64;
                for &desc in &g.0[walk.index..] {
                    if ripas_of(desc) != Some(first) {
                        break;
                    }
                    count += 1;
                    if start + count * size >= end {
                        break;
                    }
                }
                (count, first)
            })
            .map_err(|_| fault())?;
        if count == 0 {
            return input();
        }
        Ok(((start + count * size).min(end), ripas as u8))
    }

    /// RMI_RTT_SET_RIPAS's table update (B4.3.19; TF-RMM's order): the
    /// walk to level 3 must end at an entry aligned to its level (else
    /// (RMI_ERROR_RTT, level)); then each whole entry below `top` changes
    /// RIPAS — RAM: UNASSIGNED EMPTY and ASSIGNED EMPTY become RAM,
    /// DESTROYED ones only with `change_destroyed`; EMPTY: UNASSIGNED RAM
    /// and ASSIGNED RAM (its mapping leaving the TLB) become EMPTY,
    /// DESTROYED only with `change_destroyed`. The scan stops at the first
    /// entry that may not change; no progress is (RMI_ERROR_RTT, level).
    /// X1 = how far it got. The caller holds the RD and the REC.
    pub fn set_ripas(
        &mut self,
        rd: u64,
        base: u64,
        top: u64,
        ripas: u8,
        change_destroyed: bool,
    ) -> [u64; 5] {
        let step = self.set_ripas_held(rd, base, top, ripas, change_destroyed);
        self.release_all();
        match step {
            Ok(out) => rampart_ipc::rmi::result_regs(Ok(out)),
            Err(stop) => rampart_ipc::rmi::result_regs(Err(stop.error)),
        }
    }

    fn set_ripas_held(
        &mut self,
        rd: u64,
        base: u64,
        top: u64,
        ripas: u8,
        change_destroyed: bool,
    ) -> Step<Outputs> {
        let realm = self.realm_held(rd)?;
        let to_ram = match ripas {
            0 => false,
            1 => true,
            _ => return input(),
        };
        if !base.is_multiple_of(GRANULE) || !realm.protected(base) {
            return input();
        }
        let walk = self.walk(&realm, base, PAGE_LEVEL)?;
        let level = walk.level;
        if !is_aligned(base, level) {
            return Err(RmiError::Rtt(level as u8).into());
        }
        let size = map_size(level);
        let first = walk.index;
        let mut changed_valid = [false; ENTRIES];
        let count = self
            .leases
            .with_realm(walk.rtt, |g| {
                let mut n = 0usize;
                for (i, desc) in g.0[first..].iter_mut().enumerate() {
                    if base + (i as u64 + 1) * size > top {
                        break;
                    }
                    let entry = Rtte::decode(*desc, level);
                    let next = match (entry, to_ram) {
                        (Rtte::Unassigned(Ripas::Ram), true)
                        | (Rtte::Unassigned(Ripas::Empty), false)
                        | (
                            Rtte::Assigned {
                                ripas: Ripas::Ram, ..
                            },
                            true,
                        )
                        | (
                            Rtte::Assigned {
                                ripas: Ripas::Empty,
                                ..
                            },
                            false,
                        ) => entry,
                        (Rtte::Unassigned(Ripas::Destroyed), _) if !change_destroyed => break,
                        (
                            Rtte::Assigned {
                                ripas: Ripas::Destroyed,
                                ..
                            },
                            _,
                        ) if !change_destroyed => {
                            break;
                        }
                        (Rtte::Unassigned(_), true) => Rtte::Unassigned(Ripas::Ram),
                        (Rtte::Unassigned(_), false) => Rtte::Unassigned(Ripas::Empty),
                        (Rtte::Assigned { pa, .. }, true) => Rtte::Assigned {
                            pa,
                            ripas: Ripas::Ram,
                        },
                        (Rtte::Assigned { pa, .. }, false) => Rtte::Assigned {
                            pa,
                            ripas: Ripas::Empty,
                        },
                        _ => break,
                    };
                    changed_valid[first + i] = entry.is_valid() && !next.is_valid();
                    *desc = next.encode(level);
                    n += 1;
                }
                n
            })
            .map_err(|_| fault())?;
        if count == 0 {
            return Err(RmiError::Rtt(level as u8).into());
        }
        for i in 0..count {
            if changed_valid[first + i] {
                let ipa = base + i as u64 * size;
                if level == PAGE_LEVEL {
                    self.tlb.invalidate_ipa(realm.info.vmid, ipa, level as u8);
                } else {
                    self.tlb.invalidate_block(realm.info.vmid, ipa, size);
                }
            }
        }
        Ok(Outputs::one(base + count as u64 * size))
    }

    // ---- walking -----------------------------------------------------------

    /// Locks the RD and reads its realm's parameters (rd_align, rd_bound,
    /// rd_state: RMI_ERROR_INPUT).
    fn open_realm(&mut self, rd: u64) -> Step<Realm> {
        self.lock(rd, GranuleState::Rd)?;
        self.realm_held(rd)
    }

    /// The parameters of a realm whose RD is already locked.
    fn realm_held(&mut self, rd: u64) -> Step<Realm> {
        match self.realm(RealmRequest::Info { rd }) {
            Some(RealmReply::Info(info)) if config_ok(&info) => Ok(Realm { rd, info }),
            _ => Err(fault()),
        }
    }

    /// RttWalk(rd, ipa, target) (A5.5.10): from the starting-level table
    /// down, hand over hand, to `target` or the first entry that is not
    /// TABLE. The table the walk stopped in stays locked.
    fn walk(&mut self, realm: &Realm, ipa: u64, target: i8) -> Step<Walk> {
        let (mut rtt, mut index) = realm.root(ipa);
        let mut level = realm.start();
        self.lock(rtt, GranuleState::Rtt).map_err(|_| fault())?;
        loop {
            let entry = Rtte::decode(self.read(rtt, index)?, level);
            match entry {
                Rtte::Table(next) if level < target => {
                    self.lock(next, GranuleState::Rtt).map_err(|_| fault())?;
                    self.unlock(rtt);
                    rtt = next;
                    level += 1;
                    index = s2tt::index(ipa, level);
                }
                _ => {
                    return Ok(Walk {
                        level,
                        rtt,
                        index,
                        entry,
                    });
                }
            }
        }
    }

    /// RttSkipNonLiveEntries (A5.5.8): `ipa` if the walk's entry is live,
    /// else the IPA of the next live entry of its table (or the end of the
    /// table), from `ipa` aligned down to the walk level.
    fn skip_non_live(&mut self, walk: &Walk, ipa: u64) -> Step<u64> {
        let (level, index) = (walk.level, walk.index);
        self.leases
            .with_realm(walk.rtt, |g| {
                if Rtte::decode(g.0[index], level).is_live() {
                    return ipa;
                }
                let size = map_size(level);
                let next = (index + 1..ENTRIES)
                    .find(|&j| Rtte::decode(g.0[j], level).is_live())
                    .unwrap_or(ENTRIES);
                (ipa & !(size - 1)) + (next - index) as u64 * size
            })
            .map_err(|_| fault())
    }

    /// `error` with `top` in output slot `slot` (0 = X1, 1 = X2).
    fn with_top(&mut self, error: RmiError, walk: &Walk, ipa: u64, slot: usize) -> Stop {
        match self.skip_non_live(walk, ipa) {
            Ok(top) => {
                let mut outputs = Outputs::NONE;
                outputs.0[slot] = top;
                Stop { error, outputs }
            }
            Err(stop) => stop,
        }
    }

    fn read(&mut self, rtt: u64, index: usize) -> Step<u64> {
        self.leases
            .with_realm(rtt, |g| g.0[index])
            .map_err(|_| fault())
    }

    fn write(&mut self, rtt: u64, index: usize, desc: u64) -> Step<()> {
        self.leases
            .with_realm(rtt, |g| g.0[index] = desc)
            .map_err(|_| fault())
    }

    // ---- granule and realm services ---------------------------------------

    fn granule(&mut self, request: GranuleRequest) -> Option<GranuleReply> {
        Transport::<GranuleProtocol>::call(&mut self.ipc, request).ok()
    }

    fn realm(&mut self, request: RealmRequest) -> Option<RealmReply> {
        Transport::<RealmProtocol>::call(&mut self.ipc, request).ok()
    }

    /// Locks `addr` if it is in `state` (else RMI_ERROR_INPUT: unaligned,
    /// not delegable, or another state). A granule already held by this
    /// command is in another state by construction, and asking for it
    /// would wait forever.
    fn lock(&mut self, addr: u64, state: GranuleState) -> Step<()> {
        if self.held[..self.held_count].contains(&addr) || self.held_count == MAX_HELD {
            return input();
        }
        match self.granule(GranuleRequest::Lock { addr, state }) {
            Some(GranuleReply::Done) => {
                self.held[self.held_count] = addr;
                self.held_count += 1;
                Ok(())
            }
            _ => input(),
        }
    }

    /// Locks the granule a command targets, last in the lock order. A
    /// granule whose state is already wrong is refused without waiting for
    /// its lock: its holder may hold it as an RD (first in the order) and
    /// be waiting for a lock this command holds.
    fn lock_target(&mut self, addr: u64, state: GranuleState) -> Step<()> {
        match self.granule(GranuleRequest::Query { addr }) {
            Some(GranuleReply::Info { state: now, .. }) if now == state => self.lock(addr, state),
            _ => input(),
        }
    }

    fn unlock(&mut self, addr: u64) {
        if let Some(i) = self.held[..self.held_count].iter().position(|&a| a == addr) {
            self.held.copy_within(i + 1..self.held_count, i);
            self.held_count -= 1;
            let _ = self.granule(GranuleRequest::Unlock { addr });
        }
    }

    fn release_all(&mut self) {
        while self.held_count > 0 {
            self.held_count -= 1;
            let addr = self.held[self.held_count];
            let _ = self.granule(GranuleRequest::Unlock { addr });
        }
    }

    fn set_state(&mut self, addr: u64, state: GranuleState) -> Step<()> {
        match self.granule(GranuleRequest::SetState { addr, state }) {
            Some(GranuleReply::Done) => Ok(()),
            _ => Err(fault()),
        }
    }

    fn add_ref(&mut self, addr: u64, delta: i64) -> Step<()> {
        match self.granule(GranuleRequest::AddRef { addr, delta }) {
            Some(GranuleReply::Done) => Ok(()),
            _ => Err(fault()),
        }
    }

    fn refcount(&mut self, addr: u64) -> Step<u64> {
        match self.granule(GranuleRequest::Query { addr }) {
            Some(GranuleReply::Info { refcount, .. }) => Ok(refcount),
            _ => Err(fault()),
        }
    }
}

impl<T, L, B> Server<RttProtocol> for RttService<T, L, B>
where
    T: Transport<GranuleProtocol> + Transport<RealmProtocol>,
    L: Leases,
    B: S2Tlb,
{
    fn handle(&mut self, request: RttRequest) -> RttReply {
        match request {
            RttRequest::Rmi(command) => RttReply::Regs(self.command(command).regs()),
            RttRequest::RootsUnused {
                rtt_base, count, ..
            } => RttReply::Unused(self.roots_unused(rtt_base, count)),
            RttRequest::InitRoots {
                rtt_base,
                count,
                level,
                s2sz,
            } => {
                if self.init_roots(rtt_base, count, level, s2sz) {
                    RttReply::Done
                } else {
                    RttReply::Failed
                }
            }
            RttRequest::InvalidateVmid { vmid } => {
                self.tlb.invalidate_block(vmid, 0, u64::MAX);
                RttReply::Done
            }
            RttRequest::Lookup { rd, ipa, pin } => self
                .lookup(rd, ipa, pin)
                .map_or(RttReply::Failed, RttReply::Lookup),
            RttRequest::RipasRun { rd, base, end } => {
                self.ripas_run(rd, base, end)
                    .map_or(RttReply::Failed, |(top, ripas)| RttReply::Ripas {
                        top,
                        ripas,
                    })
            }
            RttRequest::SetRipas {
                rd,
                base,
                top,
                ripas,
                change_destroyed,
            } => RttReply::Regs(self.set_ripas(rd, base, top, ripas, change_destroyed)),
        }
    }
}

#[cfg(test)]
mod tests;
