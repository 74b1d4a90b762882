//! The job queue as the admin area and the API show it: counts by state, failed and dead jobs with their errors,
//! retry and discard, the schedules with their last and next runs, and the web cron endpoint.

use crate::domain::msg::Msg;
use crate::domain::role::Permission;
use crate::jobs::cron::Schedules;
use crate::services::access::{AccessError, Actor};
use crate::services::workspaces::Owner;
use crate::store::jobs::{self, JobRow};
use crate::store::settings::{self, Scope};
use crate::store::{Db, StoreError, now_millis};

/// The instance setting holding the web cron token.
pub const CRON_TOKEN_KEY: &str = "cron.token";

/// Every state a job can be in, in the order the pages show them.
pub const JOB_STATES: [&str; 5] = ["dead", "failed", "queued", "running", "done"];

/// `state` when it is a job state, else `dead` (what the lists default to).
pub fn job_state(state: &str) -> &'static str {
    JOB_STATES.iter().copied().find(|s| *s == state).unwrap_or("dead")
}

/// What the jobs pages show: counts by state, the jobs in one state, and the site's time zone to show times in.
#[derive(Debug, Clone)]
pub struct JobsOverview {
    /// One entry per state of [`JOB_STATES`], zero included.
    pub counts: Vec<(&'static str, i64)>,
    pub state: &'static str,
    pub jobs: Vec<JobRow>,
    /// `site.timezone`, UTC when unset or unknown.
    pub timezone: String,
}

/// The owner's page adds the schedules and the web cron address.
#[derive(Debug, Clone)]
pub struct OwnerJobsOverview {
    pub overview: JobsOverview,
    pub schedules: Vec<ScheduleView>,
    /// `{site.public_url}/cron?token=…` (a bare path when no public URL is set); empty without a token.
    pub cron_url: String,
}

/// Whose jobs: one workspace's (its admins) or all (the owner).
#[derive(Debug, Clone, Copy)]
pub enum JobScope {
    Workspace(i64),
    All,
}

impl JobScope {
    /// A workspace admin sees their workspace's jobs.
    pub fn for_actor(actor: &Actor) -> Result<Self, AccessError> {
        actor.require(Permission::ManageSettings)?;
        Ok(Self::Workspace(actor.workspace_id))
    }

    /// The owner sees every job.
    pub fn for_owner(_owner: &Owner) -> Self {
        Self::All
    }

    fn workspace(self) -> Option<i64> {
        match self {
            Self::Workspace(id) => Some(id),
            Self::All => None,
        }
    }
}

/// A schedule as shown: expression, last fire, last run and result, next fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleView {
    pub name: &'static str,
    pub expression: &'static str,
    pub last_fire_at: Option<i64>,
    pub last_run_at: Option<i64>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    pub next_fire_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("not found")]
    NotFound,
    #[error("the cron token is wrong")]
    BadToken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl JobsError {
    pub fn msg(&self) -> Msg {
        match self {
            Self::Access(e) => e.msg(),
            Self::NotFound => Msg::new("error.not_found"),
            Self::BadToken => Msg::new("jobs.bad_token"),
            Self::Store(_) => Msg::new("error.database_unavailable"),
        }
    }
}

pub struct JobsService {
    db: Db,
    schedules: Schedules,
}

impl JobsService {
    pub fn new(db: Db, schedules: Schedules) -> Self {
        Self { db, schedules }
    }

    pub async fn counts(&self, scope: JobScope) -> Result<Vec<(String, i64)>, JobsError> {
        let mut conn = self.db.read().await?;
        Ok(jobs::counts(&mut conn, scope.workspace()).await?)
    }

    /// Jobs in `state` (`failed`, `dead`, `queued`, `running`, `done`), newest first.
    pub async fn list(&self, scope: JobScope, state: &str, limit: i64) -> Result<Vec<JobRow>, JobsError> {
        let state = job_state(state);
        let mut conn = self.db.read().await?;
        Ok(jobs::list(&mut conn, scope.workspace(), state, limit.clamp(1, 500)).await?)
    }

    /// Counts (every state), the jobs in `state` (unknown: `dead`) and the site's time zone, for the jobs page.
    pub async fn overview(&self, scope: JobScope, state: &str, limit: i64) -> Result<JobsOverview, JobsError> {
        let state = job_state(state);
        let mut conn = self.db.read().await?;
        let found = jobs::counts(&mut conn, scope.workspace()).await?;
        let jobs = jobs::list(&mut conn, scope.workspace(), state, limit.clamp(1, 500)).await?;
        let stored = settings::get(&mut conn, Scope::Instance, "site.timezone").await?;
        let timezone = stored.filter(|tz| jiff::tz::TimeZone::get(tz).is_ok()).unwrap_or_else(|| "UTC".to_owned());
        let counts = JOB_STATES
            .iter()
            .map(|s| (*s, found.iter().find(|(state, _)| state == s).map_or(0, |(_, n)| *n)))
            .collect();
        Ok(JobsOverview { counts, state, jobs, timezone })
    }

    /// The owner's jobs page: every workspace's jobs, the schedules and the web cron address.
    pub async fn owner_overview(&self, owner: &Owner, state: &str, limit: i64) -> Result<OwnerJobsOverview, JobsError> {
        let overview = self.overview(JobScope::for_owner(owner), state, limit).await?;
        let schedules = self.schedules(owner).await?;
        let token = self.cron_token(owner).await?;
        let cron_url = if token.is_empty() {
            String::new()
        } else {
            let mut conn = self.db.read().await?;
            let base = settings::get(&mut conn, Scope::Instance, "site.public_url").await?.unwrap_or_default();
            format!("{}/cron?token={token}", base.trim_end_matches('/'))
        };
        Ok(OwnerJobsOverview { overview, schedules, cron_url })
    }

    /// The web cron token (empty when none was made yet; the instance makes one when it starts).
    pub async fn cron_token(&self, _owner: &Owner) -> Result<String, JobsError> {
        let mut conn = self.db.read().await?;
        Ok(settings::get(&mut conn, Scope::Instance, CRON_TOKEN_KEY).await?.unwrap_or_default())
    }

    pub async fn retry(&self, scope: JobScope, id: i64) -> Result<(), JobsError> {
        let mut tx = self.db.write().await?;
        if !jobs::retry(&mut tx, scope.workspace(), id).await? {
            return Err(JobsError::NotFound);
        }
        tx.wake_jobs_on_commit();
        tx.commit().await?;
        Ok(())
    }

    pub async fn discard(&self, scope: JobScope, id: i64) -> Result<(), JobsError> {
        let mut tx = self.db.write().await?;
        if !jobs::discard(&mut tx, scope.workspace(), id).await? {
            return Err(JobsError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The built-in schedules with their state (instance-wide: the owner's view).
    pub async fn schedules(&self, _owner: &Owner) -> Result<Vec<ScheduleView>, JobsError> {
        let mut conn = self.db.read().await?;
        let states = jobs::cron_states(&mut conn).await?;
        let now = now_millis();
        Ok(self
            .schedules
            .list()
            .iter()
            .map(|s| {
                let state = states.iter().find(|st| st.name == s.name).cloned().unwrap_or_default();
                ScheduleView {
                    name: s.name,
                    expression: s.expression,
                    last_fire_at: state.last_fire_at,
                    last_run_at: state.last_run_at,
                    last_result: state.last_result,
                    last_error: state.last_error,
                    next_fire_at: s.next_after(now),
                }
            })
            .collect())
    }

    /// Web cron, for hosts that stop idle processes: with the right token, enqueues the due ticks now.
    pub async fn web_cron(&self, token: &str) -> Result<Vec<&'static str>, JobsError> {
        let mut conn = self.db.read().await?;
        let expected = settings::get(&mut conn, Scope::Instance, CRON_TOKEN_KEY).await?.unwrap_or_default();
        drop(conn);
        if expected.is_empty() || !crate::crypto::constant_time_eq(&expected, token.trim()) {
            return Err(JobsError::BadToken);
        }
        Ok(self.schedules.fire_due(&self.db).await?)
    }

    /// Creates the web cron token when the instance has none yet; returns it.
    pub async fn ensure_cron_token(&self) -> Result<String, JobsError> {
        let mut tx = self.db.write().await?;
        if let Some(token) = settings::get(&mut tx, Scope::Instance, CRON_TOKEN_KEY).await? {
            return Ok(token);
        }
        let token = hex::encode(rand::random::<[u8; 20]>());
        settings::put(&mut tx, Scope::Instance, CRON_TOKEN_KEY, &token).await?;
        tx.commit().await?;
        Ok(token)
    }
}
