"""The name of every file and folder in the staging area: the one table of them.

<git common dir>/gitruns/tmp/spare-<pid>-<rand>/  a finished run's folder, kept (locked)
                            for its process's next run (recording/spare.py)
<git common dir>/gitruns/staging/
    .new-<id>/              a run being created (renamed to <id>/ once its lock is held)
    .done-<id>-<pid>/       a finalised run's folder on its way out
    <id>/
        owner.lock          held by the owner process for the life of the run
        start.json          what was known when the run began
        events.jsonl        the owner's journal: params, tags, notes, artifacts, end, and
                            small files of the run's tree (``file`` events: env/ of API runs),
                            points of keys with no file yet at the end (``points`` events)
        keys.jsonl          metric key -> CSV file of this writer
        m<N>.csv            metric points, already in their final CSV form
        summary.json        metric summaries a joined writer leaves when it ends
        uncommitted.patch   the diff of a dirty working tree
        ref.spare           the journal of the run this folder held before (spare.py), kept
                            to become this run's ref file (storage._create_loose_ref)
        files/              copied into the run's tree as they are (logs/, env/ of record)
        w-<time>-<pid>-<rand>/  one journal folder per joined writing process
            writer.lock     held while that process lives
"""

STAGING_DIR = "staging"  # under <git common dir>/gitruns/
NEW_PREFIX = ".new-"
DONE_PREFIX = ".done-"
WRITER_PREFIX = "w-"
OWNER_LOCK = "owner.lock"
WRITER_LOCK = "writer.lock"
START_FILE = "start.json"
EVENTS_FILE = "events.jsonl"
KEYS_FILE = "keys.jsonl"
SUMMARY_FILE = "summary.json"
LIVE_FILE = "live.json"  # summaries of the points on disk, for readers of a run in progress
PATCH_STAGED = "uncommitted.patch"
REF_SPARE = "ref.spare"
EXTRA_FILES_DIR = "files"
FILE_EVENT = "file"  # a journal event holding one small file of the run's tree, inline
POINTS_EVENT = "points"  # a journal event holding a key's points (CSV lines) at a run's end
# Created by the first start_run() that joins a recorded run: every later start_run(), in any
# process of the recorded command, starts a child run instead.
JOIN_CLAIM_FILE = "joined-by-start-run"
