//! The commands: each takes the [`Folders`], the catalogue and plain options, sends its
//! `appliance_step` records to a [`Sink`] as they happen, and returns the `appliance` record.
//!
//! A command that fails part-way leaves the appliance in a named state (`up-failed`,
//! `fail-over-failed`, ...) with the command that recovers from it, saved before the record
//! is returned: never a silent half-state.

use std::{
    collections::BTreeMap,
    fs,
    io::Read,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mc_vm::{Accel, DownOptions, Machine, UpOptions, WaitFor};
use minicluster::record::{ApplianceMachine, ApplianceRecord, Record};
use sha2::{Digest, Sha256};

use crate::{
    ApplianceError,
    catalog::{self, App},
    logging::Logging,
    state::{self, Appliance, Folders, Slot},
    steps::{Phase, Sink, host_step, millis},
};

/// The private network every appliance's machines share (one per appliance: each has its own
/// mc-vm state folder).
const NETWORK: &str = "lan";

/// How [`define`] lays an appliance out.
#[derive(Clone, Debug)]
pub struct DefineOptions {
    /// The application.
    pub app: String,
    /// Machines besides the primary.
    pub replicas: u32,
    /// Where its records are logged besides stdout.
    pub logging: Option<Logging>,
}

/// Where an appliance's machines run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// The accelerator.
    pub accel: Accel,
}

/// Everything a command needs besides its own options.
pub struct Env<'a> {
    /// The folders.
    pub folders: &'a Folders,
    /// The catalogue.
    pub apps: &'a BTreeMap<String, App>,
    /// Where the records go.
    pub sink: &'a mut dyn Sink,
}

/// Defines appliance `name`: its machines' names, addresses and host ports, and a password.
pub fn define(
    env: &mut Env,
    name: &str,
    options: &DefineOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let app = catalog::find(env.apps, &options.app)?;
    let _lock = state::lock(env.folders, name)?;
    if Appliance::load(env.folders, name).is_ok() {
        return Err(state::StateError::Exists(name.to_owned()).into());
    }
    let slots = (0..=options.replicas)
        .map(|index| {
            Ok(Slot {
                machine: format!("{name}-{index}"),
                address: format!("10.77.0.{}", 10 + index),
                host_port: free_tcp_port()?,
            })
        })
        .collect::<Result<Vec<_>, ApplianceError>>()?;
    let appliance = Appliance {
        name: name.to_owned(),
        app: app.name.clone(),
        password: password()?,
        slots,
        primary: 0,
        state: "defined".to_owned(),
        recover: None,
        previous_version: None,
        logging: options.logging.clone(),
    };
    appliance.save(env.folders)?;
    Ok(record(&appliance, &app, "define", None, started))
}

/// Builds (or finds) the image, starts every machine and runs the app's `up` phase.
pub fn up(
    env: &mut Env,
    name: &str,
    options: RunOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (_lock, mut appliance, app, vms) = open(env, name)?;
    let image = image(env, &appliance, &app, "up")?;
    for index in 0..appliance.slots.len() {
        define_machine(env.folders, &appliance, &app, &image, &vms, index)?;
    }
    let started_all =
        (0..appliance.slots.len()).all(|index| boot(env, &vms, &appliance, index, options, "up"));
    if !started_all || !phase(&appliance, &app, &vms, "up").run("up", env.sink) {
        return fail(
            env,
            &mut appliance,
            &app,
            "up",
            "mc-appliance down NAME, then up NAME",
            started,
        );
    }
    running(env, &mut appliance, &app, "up", started)
}

/// Stops every machine and removes its definition and disks (overlays over the image): the
/// appliance is `stopped` and the next `up` starts it fresh from the image.
pub fn down(env: &mut Env, name: &str) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (_lock, mut appliance, app, vms) = open(env, name)?;
    for slot in &appliance.slots {
        if mc_vm::show(&vms, &slot.machine).is_ok() {
            let stop = Instant::now();
            let down = mc_vm::down(&vms, &slot.machine, &DownOptions::default());
            env.sink.record(Record::ApplianceStep(host_step(
                name,
                "down",
                "stop",
                stop,
                down.map(|r| format!("{} stopped", r.name))
                    .map_err(|e| e.to_string()),
            )));
        }
    }
    let dir = env.folders.dir(name)?;
    for folder in [dir.join("vms"), dir.join("disks")] {
        match fs::remove_dir_all(&folder) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(state::io("removing", &folder)(error).into());
            }
            _ => {}
        }
    }
    appliance.state = "stopped".to_owned();
    appliance.recover = None;
    appliance.primary = 0;
    appliance.save(env.folders)?;
    Ok(record(&appliance, &app, "down", None, started))
}

/// The appliance with each machine's run state as mc-vm sees it.
pub fn status(env: &mut Env, name: &str) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (appliance, app) = load(env, name)?;
    Ok(record(
        &appliance,
        &app,
        "status",
        Some(&vms(env.folders, name)?),
        started,
    ))
}

/// The appliance as defined: endpoints, machines, state.
pub fn show(env: &mut Env, name: &str) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (appliance, app) = load(env, name)?;
    Ok(record(&appliance, &app, "show", None, started))
}

/// Runs the app's health checks; the verdict is `healthy` when every one passed.
pub fn check_health(env: &mut Env, name: &str) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (_lock, appliance, app, vms) = open(env, name)?;
    let healthy = phase(&appliance, &app, &vms, "check-health").run("check-health", env.sink);
    let mut result = record(&appliance, &app, "check-health", Some(&vms), started);
    result.ok = healthy;
    result.verdict = Some(if healthy { "healthy" } else { "unhealthy" }.to_owned());
    Ok(result)
}

/// How [`backup`] keeps backups.
#[derive(Clone, Debug)]
pub struct BackupOptions {
    /// The folder the backups go to.
    pub to: PathBuf,
    /// How many of this appliance's complete backups to keep there (the oldest go).
    pub keep: Option<usize>,
}

/// The manifest beside a backup, `BACKUP.json`: written last, so a backup without one is not
/// complete (the machine died, the copy broke off).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BackupManifest {
    /// The appliance backed up.
    pub appliance: String,
    /// Its app.
    pub app: String,
    /// The backup file's name (beside the manifest).
    pub file: String,
    /// Its sha256, lower-case hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// When it was taken, Unix seconds.
    pub created: u64,
}

/// Dumps the primary, copies the dump to `options.to` with its sha256 in a manifest, and
/// drops the oldest backups past `options.keep`.
pub fn backup(
    env: &mut Env,
    name: &str,
    options: &BackupOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (_lock, appliance, app, vms) = open(env, name)?;
    let phase = phase(&appliance, &app, &vms, "backup");
    if !phase.run("backup", env.sink) {
        return failed_command(&appliance, &app, "backup", "the dump failed", started);
    }
    fs::create_dir_all(&options.to).map_err(state::io("creating", &options.to))?;
    let created = unix_now();
    let file = format!("{name}-{created}.sql.zst");
    let path = options.to.join(&file);
    let copy = Instant::now();
    let primary = &appliance.slots[appliance.primary].machine;
    let pulled = mc_vm::pull(
        &vms,
        primary,
        &app.file,
        &path,
        &mc_vm::PullOptions::default(),
    );
    if !copy_step(env, name, "backup", "copy-to-host", copy, &pulled) {
        return failed_command(
            &appliance,
            &app,
            "backup",
            "copying the dump to the host failed",
            started,
        );
    }
    let (sha256, size_bytes) = sha256_file(&path)?;
    let manifest = BackupManifest {
        appliance: name.to_owned(),
        app: app.name.clone(),
        file: file.clone(),
        sha256,
        size_bytes,
        created,
    };
    write_atomic(
        &manifest_path(&path),
        &serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
    )?;
    phase.run("backup-done", env.sink);
    if let Some(keep) = options.keep {
        prune(&options.to, name, keep)?;
    }
    let mut result = record(&appliance, &app, "backup", None, started);
    result.backup = Some(path.display().to_string());
    Ok(result)
}

/// The host step record of a file copied between host and guest; whether it was.
fn copy_step(
    env: &mut Env,
    appliance: &str,
    command: &str,
    step: &str,
    started: Instant,
    copied: &Result<minicluster::record::VmRecord, mc_vm::VmError>,
) -> bool {
    let record = host_step(
        appliance,
        command,
        step,
        started,
        copied
            .as_ref()
            .map(|r| format!("{} bytes", r.size_bytes.unwrap_or(0)))
            .map_err(ToString::to_string),
    );
    let ok = record.ok;
    env.sink.record(Record::ApplianceStep(record));
    ok
}

/// The complete backups of appliance `name` in `dir`, oldest first.
pub fn backups(dir: &Path, name: &str) -> Result<Vec<(PathBuf, BackupManifest)>, ApplianceError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(dir).map_err(state::io("reading", dir))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let Ok(manifest) = serde_json::from_str::<BackupManifest>(&text) else {
            continue;
        };
        if manifest.appliance == name {
            found.push((dir.join(&manifest.file), manifest));
        }
    }
    found.sort_by_key(|(_, m)| m.created);
    Ok(found)
}

/// Removes the oldest complete backups of `name` in `dir` past the newest `keep`; how many.
pub(crate) fn prune(dir: &Path, name: &str, keep: usize) -> Result<usize, ApplianceError> {
    let all = backups(dir, name)?;
    let excess = all.len().saturating_sub(keep);
    for (path, _) in all.into_iter().take(excess) {
        // The manifest first: a backup without one is incomplete, never half-listed.
        let manifest = manifest_path(&path);
        fs::remove_file(&manifest).map_err(state::io("removing", &manifest))?;
        fs::remove_file(&path).map_err(state::io("removing", &path))?;
    }
    Ok(excess)
}

/// How [`restore`] restores.
#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// The backup file (its manifest beside it).
    pub from: PathBuf,
    /// A new appliance to restore into (defined with the same app and no replicas, then
    /// started); else into the appliance itself.
    pub into: Option<String>,
    /// Where the machines run.
    pub run: RunOptions,
}

/// Checks the backup against its manifest's sha256, then loads it into the target appliance's
/// primary and checks that it answers; the record is the target's.
pub fn restore(
    env: &mut Env,
    name: &str,
    options: &RestoreOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let check = Instant::now();
    let verified = verify_backup(&options.from);
    let ok = verified.is_ok();
    env.sink.record(Record::ApplianceStep(host_step(
        name,
        "restore",
        "verify-backup",
        check,
        verified
            .as_ref()
            .map(|m| format!("sha256 {} matches", m.sha256))
            .map_err(ToString::to_string),
    )));
    let manifest = verified?;
    let (source, app) = load(env, name)?;
    if manifest.app != app.name {
        return Err(ApplianceError::Backup(format!(
            "{} is a backup of a {} appliance, not {}",
            options.from.display(),
            manifest.app,
            app.name
        )));
    }
    debug_assert!(ok);
    let target = match &options.into {
        Some(new) => {
            define(
                env,
                new,
                &DefineOptions {
                    app: app.name.clone(),
                    replicas: 0,
                    logging: source.logging.clone(),
                },
            )?;
            let started_up = up(env, new, options.run)?;
            if !started_up.ok {
                return Ok(started_up);
            }
            new.clone()
        }
        None => source.name.clone(),
    };
    let _lock = state::lock(env.folders, &target)?;
    let (mut appliance, app) = load(env, &target)?;
    let vms = vms(env.folders, &target)?;
    let push = Instant::now();
    let primary = appliance.slots[appliance.primary].machine.clone();
    let pushed = mc_vm::push(
        &vms,
        &primary,
        &options.from,
        &app.file,
        Duration::from_secs(600),
    );
    let copied = copy_step(env, &target, "restore", "copy-to-guest", push, &pushed);
    if !copied || !phase(&appliance, &app, &vms, "restore").run("restore", env.sink) {
        return fail(
            env,
            &mut appliance,
            &app,
            "restore",
            "mc-appliance restore NAME --from BACKUP",
            started,
        );
    }
    let mut result = record(&appliance, &app, "restore", None, started);
    result.backup = Some(options.from.display().to_string());
    Ok(result)
}

/// The manifest of the backup at `path`, when the file's sha256 and size match it.
pub fn verify_backup(path: &Path) -> Result<BackupManifest, ApplianceError> {
    let manifest_path = manifest_path(path);
    let text = fs::read_to_string(&manifest_path).map_err(|error| {
        ApplianceError::Backup(format!(
            "{}: no manifest ({error}): not a complete backup",
            manifest_path.display()
        ))
    })?;
    let manifest: BackupManifest = serde_json::from_str(&text)
        .map_err(|error| ApplianceError::Backup(format!("{}: {error}", manifest_path.display())))?;
    let (sha256, size) = sha256_file(path)?;
    if sha256 != manifest.sha256 || size != manifest.size_bytes {
        return Err(ApplianceError::Backup(format!(
            "{}: sha256 {sha256} ({size} bytes), the manifest says {} ({} bytes): the backup was altered or cut short",
            path.display(),
            manifest.sha256,
            manifest.size_bytes
        )));
    }
    Ok(manifest)
}

/// How [`fail_over`] decides.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailOverOptions {
    /// Only when the primary does not answer (what `monitor` would trigger).
    pub when_down: bool,
    /// Where the machines run.
    pub run: RunOptions,
}

/// Probes the primary (with `when_down`, a primary that answers ends it there); stops the old
/// primary's service when it answers (no write may land on it after the promotion); promotes
/// the first replica and points the primary endpoint at it; rejoins the old primary (booted
/// again when it was down) as a replica with pg_rewind.
pub fn fail_over(
    env: &mut Env,
    name: &str,
    options: FailOverOptions,
) -> Result<ApplianceRecord, ApplianceError> {
    let started = Instant::now();
    let (_lock, mut appliance, app, vms) = open(env, name)?;
    let Some(&new_primary) = appliance.replicas().first() else {
        return Err(ApplianceError::Usage(format!(
            "{name} has no replica to fail over to"
        )));
    };
    let old_primary = appliance.primary;
    let answers = phase(&appliance, &app, &vms, "fail-over").run("probe", env.sink);
    if answers && options.when_down {
        let mut result = record(&appliance, &app, "fail-over", None, started);
        result.message = Some("the primary answers: nothing to do".to_owned());
        return Ok(result);
    }
    let promoted = (!answers || phase(&appliance, &app, &vms, "fail-over").run("fence", env.sink))
        && {
            appliance.primary = new_primary;
            phase(&appliance, &app, &vms, "fail-over").run("promote", env.sink)
        };
    if !promoted {
        appliance.primary = old_primary;
    } else {
        // The endpoint moves now: the new primary takes writes even if the rejoin fails.
        appliance.save(env.folders)?;
    }
    if !promoted || !boot(env, &vms, &appliance, old_primary, options.run, "fail-over") {
        return fail(
            env,
            &mut appliance,
            &app,
            "fail-over",
            "mc-appliance fail-over NAME",
            started,
        );
    }
    if !phase(&appliance, &app, &vms, "fail-over").run("rejoin", env.sink) {
        return fail(
            env,
            &mut appliance,
            &app,
            "rejoin-failed",
            "mc-appliance down NAME, then up NAME (restore a backup)",
            started,
        );
    }
    running(env, &mut appliance, &app, "fail-over", started)
}

/// Starts machine number `index` unless it runs; a `boot` step record says how it went.
/// Whether it runs now.
pub(crate) fn boot(
    env: &mut Env,
    vms: &mc_vm::State,
    appliance: &Appliance,
    index: usize,
    options: RunOptions,
    command: &str,
) -> bool {
    let machine = &appliance.slots[index].machine;
    if mc_vm::status(vms, machine).is_ok_and(|r| r.pid.is_some()) {
        return true;
    }
    let started = Instant::now();
    let up = mc_vm::up(vms, machine, &up_options(options));
    let step = host_step(
        &appliance.name,
        command,
        "boot",
        started,
        up.map(|r| format!("{} started (pid {:?})", r.name, r.pid))
            .map_err(|e| e.to_string()),
    );
    let ok = step.ok;
    env.sink.record(Record::ApplianceStep(step));
    ok
}

/// Saves the appliance as `running` (no recovery pending); its record for `command`.
pub(crate) fn running(
    env: &mut Env,
    appliance: &mut Appliance,
    app: &App,
    command: &str,
    started: Instant,
) -> Result<ApplianceRecord, ApplianceError> {
    appliance.state = "running".to_owned();
    appliance.recover = None;
    appliance.save(env.folders)?;
    Ok(record(appliance, app, command, None, started))
}

/// Saves the appliance in state `COMMAND-failed` with `recover` (NAME replaced), and returns
/// its failed record.
pub(crate) fn fail(
    env: &mut Env,
    appliance: &mut Appliance,
    app: &App,
    command: &str,
    recover: &str,
    started: Instant,
) -> Result<ApplianceRecord, ApplianceError> {
    appliance.state = if command.ends_with("-failed") {
        command.to_owned()
    } else {
        format!("{command}-failed")
    };
    appliance.recover = Some(recover.replace("NAME", &appliance.name));
    appliance.save(env.folders)?;
    let mut result = record(
        appliance,
        app,
        command.trim_end_matches("-failed"),
        None,
        started,
    );
    result.ok = false;
    result.message = Some(format!("{command} did not finish: see the failed step"));
    Ok(result)
}

/// A failed command that changed nothing: the record says so, the state stays.
pub(crate) fn failed_command(
    appliance: &Appliance,
    app: &App,
    command: &str,
    message: &str,
    started: Instant,
) -> Result<ApplianceRecord, ApplianceError> {
    let mut result = record(appliance, app, command, None, started);
    result.ok = false;
    result.message = Some(message.to_owned());
    Ok(result)
}

/// Appliance `name` for one command: its lock (held until dropped), state, app and machines.
pub(crate) fn open(
    env: &Env,
    name: &str,
) -> Result<(fs::File, Appliance, App, mc_vm::State), ApplianceError> {
    let lock = state::lock(env.folders, name)?;
    let (appliance, app) = load(env, name)?;
    Ok((lock, appliance, app, vms(env.folders, name)?))
}

pub(crate) fn load(env: &Env, name: &str) -> Result<(Appliance, App), ApplianceError> {
    let appliance = Appliance::load(env.folders, name)?;
    let app = catalog::find(env.apps, &appliance.app)?;
    Ok((appliance, app))
}

pub(crate) fn vms(folders: &Folders, name: &str) -> Result<mc_vm::State, ApplianceError> {
    Ok(mc_vm::State::new(folders.dir(name)?.join("vms")))
}

pub(crate) fn phase<'a>(
    appliance: &'a Appliance,
    app: &'a App,
    vms: &'a mc_vm::State,
    command: &'a str,
) -> Phase<'a> {
    let vars = BTreeMap::from([
        ("password", appliance.password.clone()),
        (
            "primary_address",
            appliance.slots[appliance.primary].address.clone(),
        ),
        ("replicas", appliance.replicas().len().to_string()),
        ("file", app.file.clone()),
        ("now", unix_now().to_string()),
    ]);
    Phase {
        appliance,
        app,
        vms,
        command,
        vars,
    }
}

fn up_options(options: RunOptions) -> UpOptions {
    UpOptions {
        accel: options.accel,
        wait: WaitFor::Started,
        timeout: Duration::from_secs(600),
    }
}

/// The app's image, built into (or found in) `IMAGES/RECIPE`; a host step record says which.
fn image(
    env: &mut Env,
    appliance: &Appliance,
    app: &App,
    command: &str,
) -> Result<mc_vm::build::Image, ApplianceError> {
    let started = Instant::now();
    let (recipe_name, text) = app.recipe()?;
    let dir = env.folders.images.join(&recipe_name);
    fs::create_dir_all(&dir).map_err(state::io("creating", &dir))?;
    let recipe = dir.join("recipe.toml");
    if fs::read_to_string(&recipe).ok().as_deref() != Some(text.as_str()) {
        write_atomic(&recipe, text.as_bytes())?;
    }
    let built = mc_vm::build::build(&recipe, &dir);
    let said = built
        .as_ref()
        .map(|r| {
            if r.cached {
                format!("{} (cached)", r.dir)
            } else {
                format!("{} built in {} ms", r.dir, r.elapsed_ms)
            }
        })
        .map_err(ToString::to_string);
    env.sink.record(Record::ApplianceStep(host_step(
        &appliance.name,
        command,
        "image",
        started,
        said,
    )));
    built?;
    Ok(mc_vm::build::Image::open(&dir)?)
}

/// Defines machine number `index` over fresh overlays of the image (kept when they exist).
fn define_machine(
    folders: &Folders,
    appliance: &Appliance,
    app: &App,
    image: &mc_vm::build::Image,
    vms: &mc_vm::State,
    index: usize,
) -> Result<(), ApplianceError> {
    let slot = &appliance.slots[index];
    let disks_dir = folders.dir(&appliance.name)?.join("disks");
    fs::create_dir_all(&disks_dir).map_err(state::io("creating", &disks_dir))?;
    let mut disks = Vec::new();
    for (kind, base) in [
        ("root", Some(image.root_disk())),
        ("data", image.data_disk()),
    ] {
        let Some(base) = base else { continue };
        let overlay = disks_dir.join(format!("{}-{kind}.qcow2", slot.machine));
        if !overlay.exists() {
            mc_vm::image::create_overlay(&base, &overlay)?;
        }
        disks.push(overlay);
    }
    let machine = Machine {
        name: slot.machine.clone(),
        memory_mib: app.memory_mib,
        cpus: 1,
        kernel: Some(image.kernel()),
        initrd: Some(image.initrd()),
        append: Some(format!(
            "{} systemd.hostname={}",
            image.manifest.append, slot.machine
        )),
        disks,
        agent: true,
        net: false,
        forwards: vec![mc_vm::Forward {
            host_port: slot.host_port,
            guest_port: app.port,
        }],
        nics: vec![mc_vm::Nic {
            network: NETWORK.to_owned(),
            address: format!("{}/24", slot.address),
        }],
    };
    if mc_vm::show(vms, &slot.machine).is_err() {
        mc_vm::define(vms, machine)?;
    }
    Ok(())
}

/// The `appliance` record; with `vms`, each machine's run state asked of mc-vm.
pub(crate) fn record(
    appliance: &Appliance,
    app: &App,
    command: &str,
    vms: Option<&mc_vm::State>,
    started: Instant,
) -> ApplianceRecord {
    let mut endpoints = BTreeMap::new();
    let machines = appliance
        .slots
        .iter()
        .enumerate()
        .map(|(index, slot)| {
            let role = appliance.role(index, &app.roles);
            let url = app
                .url
                .replace("{password}", &appliance.password)
                .replace("{port}", &slot.host_port.to_string());
            endpoints.insert(role.clone(), url);
            let running = match vms {
                Some(vms) => mc_vm::status(vms, &slot.machine).is_ok_and(|r| r.pid.is_some()),
                None => appliance.state == "running",
            };
            ApplianceMachine {
                name: slot.machine.clone(),
                role,
                address: slot.address.clone(),
                host_port: slot.host_port,
                state: if running { "running" } else { "stopped" }.to_owned(),
            }
        })
        .collect();
    ApplianceRecord {
        name: appliance.name.clone(),
        app: app.name.clone(),
        command: command.to_owned(),
        state: appliance.state.clone(),
        ok: true,
        recover: appliance.recover.clone(),
        endpoints,
        machines,
        elapsed_ms: millis(started),
        ..ApplianceRecord::default()
    }
}

fn free_tcp_port() -> Result<u16, ApplianceError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(state::io("binding", Path::new("127.0.0.1:0")))?;
    Ok(listener
        .local_addr()
        .map_err(state::io("binding", Path::new("127.0.0.1:0")))?
        .port())
}

/// 16 random bytes as hex, from the kernel.
fn password() -> Result<String, ApplianceError> {
    let mut bytes = [0u8; 16];
    let path = Path::new("/dev/urandom");
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(state::io("reading", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn sha256_file(path: &Path) -> Result<(String, u64), ApplianceError> {
    let mut file = fs::File::open(path).map_err(state::io("reading", path))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(state::io("reading", path))?;
    Ok((
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        size,
    ))
}

/// `BACKUP.json` for `BACKUP.sql.zst`.
fn manifest_path(backup: &Path) -> PathBuf {
    let name = backup
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".sql.zst").unwrap_or(&name);
    backup.with_file_name(format!("{stem}.json"))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ApplianceError> {
    minicluster::file::write_atomic(path, bytes, false).map_err(state::io("writing", path))?;
    Ok(())
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_altered_by_one_byte_or_without_manifest_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backup = dir.path().join("db-1.sql.zst");
        fs::write(&backup, b"dump bytes").expect("writes");
        assert!(
            verify_backup(&backup)
                .expect_err("no manifest")
                .to_string()
                .contains("not a complete backup")
        );
        let (sha256, size_bytes) = sha256_file(&backup).expect("hashes");
        let manifest = BackupManifest {
            appliance: "db".into(),
            app: "postgresql".into(),
            file: "db-1.sql.zst".into(),
            sha256,
            size_bytes,
            created: 1,
        };
        write_atomic(
            &manifest_path(&backup),
            &serde_json::to_vec(&manifest).expect("json"),
        )
        .expect("writes");
        assert_eq!(verify_backup(&backup).expect("intact").size_bytes, 10);
        fs::write(&backup, b"dump bytez").expect("writes");
        assert!(
            verify_backup(&backup)
                .expect_err("altered")
                .to_string()
                .contains("altered")
        );
        assert_eq!(backups(dir.path(), "db").expect("lists").len(), 1);
        prune(dir.path(), "db", 0).expect("prunes");
        assert!(backups(dir.path(), "db").expect("lists").is_empty() && !backup.exists());
    }
}
