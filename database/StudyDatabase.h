#pragma once
// The study database: one data folder holding `panseg.sqlite` (SQLite through Qt SQL) and
// `files/` (mask files written by PanSeg). Patients, studies and series point at images by
// reference; every saved mask is a new immutable version whose file is on disk, complete and
// flushed, before the row that points at it is committed. Every change is one transaction and
// leaves an audit entry. See database/README.md for the schema and the guarantees.
//
// One StudyDatabase = one connection, used from one thread. Several processes may open the same
// folder: writers queue on the database's write lock (busy timeout, 30 s by default).
// Every failure throws panseg::Error with a one-line message.

#include "core/Error.h"
#include "core/Volume.h"
#include "database/Records.h"
#include "database/SqlDialect.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace panseg::db
{
/// Thrown by saveMaskVersion for an imported mask (MaskSource::Import) whose content is already a
/// version of the series: the check runs inside the write transaction, backed by a unique index.
class DuplicateMaskError : public Error
{
public:
  DuplicateMaskError(int64_t existing, const std::string& message) : Error(message), existingId(existing) {}
  int64_t existingId = 0; // 0 when only the unique index noticed
};

/// Result of StudyDatabase::verifyAuditChain.
struct AuditChainReport
{
  bool ok = false;
  int64_t entries = 0;       // rows in the audit log
  int64_t brokenEntryId = 0; // the first entry whose hash or link does not hold (0 when ok)
  std::string problem;       // why, one line ("content altered", "link broken", "entry missing", ...)
  int64_t headSeq = 0;       // sequence number and hash of the last entry (note them elsewhere to
  std::string headHash;      // detect a removed tail later)
};

class StudyDatabase
{
public:
  static constexpr const char* kDatabaseFileName = "panseg.sqlite";
  static constexpr const char* kMaskFolder = "files/masks";

  struct OpenOptions
  {
    std::string username;        // acting user; empty = the operating-system login name
    int busyTimeoutMs = 30000;   // how long a writer waits for another process's write lock
    bool sweepOrphans = true;    // remove files left by killed processes (see sweepOrphanFiles)
    int maxSchemaVersion = 0;    // migrate only up to this version (tests of migrations); 0 = all
    // Server mode (a postgresql:// location) only: the password when the caller has one (the
    // GUI's sign-in dialog); else libpq's own rules apply (the URI, PGPASSWORD, ~/.pgpass), and
    // when the server asks for a password that none of them gave, passwordPrompt is asked (the
    // command line prompts on a terminal). Never stored.
    std::string password;
    std::function<std::string(const std::string& prompt)> passwordPrompt;
    // Server mode, the owner: apply missing migrations and the server set-up on open (as
    // `panseg server init` does). false: refuse a database that is not set up, as for everyone.
    bool setUpServer = true;
  };

  /// Server mode: the password prompt used when OpenOptions::passwordPrompt is empty (the
  /// command line installs one that asks on the terminal, as psql does).
  static void setDefaultPasswordPrompt(std::function<std::string(const std::string& prompt)> prompt);

  /// $PANSEG_DB_DIR when set, else <GenericDataLocation>/panseg/studies (~/.local/share/...).
  /// Not AppDataLocation: that depends on the application name, which the GUI sets and the
  /// command line does not, and both must find the same database.
  static std::string defaultDataFolder();

  /// Opens (creating when absent) the database in `dataFolder`, applies missing migrations and
  /// removes orphaned temporary files. Throws Error for a read-only folder, a file that is not
  /// a SQLite database, a corrupt one, or a schema newer than this program.
  ///
  /// Server mode: `dataFolder` may instead be a libpq URI, postgresql://[user@]host[:port]/dbname
  /// [?sslmode=verify-full&sslrootcert=...]. PostgreSQL authenticates the user (the acting user is
  /// the signed-in role; OpenOptions::username must be empty or the same name), blinding is
  /// enforced by the server's row-level security, and mask voxels are stored in the database.
  /// The schema is created by `panseg server init` (database/server/ServerAdmin.h).
  explicit StudyDatabase(const std::string& dataFolder, const OpenOptions& options);
  explicit StudyDatabase(const std::string& dataFolder);
  ~StudyDatabase();
  StudyDatabase(const StudyDatabase&) = delete;
  StudyDatabase& operator=(const StudyDatabase&) = delete;

  /// The data folder, or in server mode the URI without its password.
  const std::string& dataFolder() const;
  /// True for a shared PostgreSQL database (server mode).
  bool isServer() const;
  const SqlDialect& dialect() const;
  /// OpenOptions::busyTimeoutMs: how long a writer waits for the write lock; also the setup of a
  /// server connection revived after it was lost (SharedSql).
  int busyTimeoutMs() const;
  std::string databasePath() const;
  /// Absolute path of a path stored relative to the data folder.
  std::string absolutePath(const std::string& relative) const;
  int schemaVersion() const;
  /// The acting user: OpenOptions::username, else $PANSEG_USER, else the operating-system login.
  const User& currentUser() const;
  /// Name of this database's Qt SQL connection, for repositories in database/ that keep their
  /// own tables in the same database and must share its transactions (ReaderStudy).
  std::string connectionName() const;

  // ---- users ------------------------------------------------------------------------------
  /// The first user of a new database is an admin; later users start as readers.
  User addUser(const std::string& username, Role role, const std::string& displayName = {});
  void setUserRole(int64_t userId, Role role);
  /// Account administration for `panseg db user ...`: admin only (throws Error naming the acting
  /// user's role otherwise), audited. addUserAsAdmin keeps the given role (addUser makes the
  /// first user of a database an admin); setUserActive(false) keeps the user's rows and history
  /// but refuses to open the database as that user; an admin cannot disable themselves.
  User addUserAsAdmin(const std::string& username, Role role, const std::string& displayName = {});
  void setUserRoleAsAdmin(const std::string& username, Role role);
  void setUserActive(const std::string& username, bool active);
  std::vector<User> users() const;
  std::optional<User> userByName(const std::string& username) const;

  // ---- series -----------------------------------------------------------------------------
  struct NewSeries
  {
    std::string patientKey; // identity for grouping ("dicom:<PatientID>" or "name:<case>")
    std::string patientId, patientName;
    std::string studyKey;
    std::string studyInstanceUid, studyDate, studyDescription;
    std::string seriesInstanceUid, description;
    Modality modality = Modality::Other;
    std::string modalitySource = "unknown";
    std::string dicomModality;
    std::string center;
    std::string acquisitionDate;
    Geometry geometry;
    std::string format;
    std::string sourcePath;
    std::string contentHash; // required; the duplicate key
    int fileCount = 1;
    std::string auditDetails; // extra JSON object members for the audit entry (e.g. modality reason)
  };
  struct AddedSeries
  {
    int64_t id = 0;
    bool duplicate = false; // a series with the same content hash already existed (id = that one)
  };
  /// Adds a series (and its patient/study when new) in one transaction.
  AddedSeries addSeries(const NewSeries& series);
  /// Adds many in a single transaction (bulk loads, benchmarks).
  std::vector<AddedSeries> addSeriesBatch(const std::vector<NewSeries>& series);
  /// Series with their mask summary. For a user blinded by a reader study (Blinding.h) the
  /// summary counts only the masks that user may see.
  std::vector<SeriesRecord> listSeries(const SeriesFilter& filter = {}) const;
  std::optional<SeriesRecord> series(int64_t seriesId) const;
  std::optional<int64_t> seriesIdByContentHash(const std::string& contentHash) const;
  /// A user's correction of the detected modality (modality source becomes "user").
  void setSeriesModality(int64_t seriesId, Modality modality);
  /// Reads the referenced image; with verifyContent, checks it still has the imported content.
  Image loadImage(int64_t seriesId, bool verifyContent = true) const;

  // ---- mask versions ----------------------------------------------------------------------
  /// Saves `mask` as a new version of `seriesId`, authored by the current user. The mask must
  /// lie on the series' grid. The file is written and verified before the row is committed.
  /// Returns the new version's id. Earlier versions are never touched.
  int64_t saveMaskVersion(int64_t seriesId, const LabelMask& mask, const MaskProvenance& provenance);
  /// Versions of a series, oldest first, without those the current user is blinded to by a
  /// reader study (Blinding.h).
  std::vector<MaskVersion> masksOf(int64_t seriesId) const;
  /// Throws Error ("blinded: ...") when a reader study blinds the current user to this version.
  std::optional<MaskVersion> maskVersion(int64_t versionId) const;
  std::optional<int64_t> maskIdByContentHash(int64_t seriesId, const std::string& contentHash) const;
  /// Moves a version through the review workflow (see isAllowedTransition).
  /// A version the current user may not see (the rules of loadMask) is refused with
  /// "mask version N not found or not visible to USER", never with its state.
  /// Approving an AI version that the plausibility check flags (database/studies/Plausibility.h) throws
  /// ImplausibleMaskError unless `acceptFlagged` (the user confirmed); the approval's audit
  /// entry then records the flag and who confirmed it.
  void setMaskState(int64_t versionId, MaskState state, const std::string& note = {}, bool acceptFlagged = false);
  /// True when a reader study blinds the current user on this series (Blinding.h).
  bool blindedOn(int64_t seriesId) const;
  /// True when the current user is a reader of an open reader study that blinds them anywhere.
  bool blindedAnywhere() const;
  /// Reads a version's file after checking its SHA-256; throws Error naming a missing or
  /// altered file, or "blinded: ..." when a reader study hides the version from the current user.
  LabelMask loadMask(int64_t versionId) const;
  /// The label table stored with a version (database/LabelTables.h; the defaults for versions
  /// saved before schema version 8). Same visibility as maskVersion: throws Error for a missing
  /// version and "blinded: ..." for a hidden one.
  LabelTable labelTable(int64_t versionId) const;

  // ---- model registry and jobs (used by inference and training) ----------------------------
  int64_t registerModelVersion(const ModelVersion& model);
  std::vector<ModelVersion> modelVersions() const;
  int64_t createJob(const Job& job);
  void updateJob(int64_t jobId, JobState state, double progress, const std::string& message,
                 int64_t resultMaskVersionId = 0);
  std::optional<Job> job(int64_t jobId) const;
  std::vector<Job> jobs() const;

  // ---- audit and checks -------------------------------------------------------------------
  /// Entries oldest first; optionally only those about one record.
  std::vector<AuditEntry> auditLog(const std::string& tableName = {}, int64_t recordId = 0) const;
  /// Appends one audit entry to the hash chain: reads the last entry's hash and inserts the new
  /// entry with its sequence number, that hash and the SHA-256 of its own columns. Must be called
  /// inside the caller's write transaction (which serialises writers). Every audit entry of
  /// database/ is written here. `detailsJson` is a JSON object; `at` defaults to now (UTC).
  void appendAudit(const std::string& action, const std::string& table, int64_t recordId,
                   const std::string& detailsJson, const std::string& at = {}) const;
  /// The same in the name of `author` (id 0 = none): copying an audit log into a server
  /// (database/server/DatabaseCopy.h), where only the owner may write entries for others.
  void appendAuditAs(const User& author, const std::string& action, const std::string& table, int64_t recordId,
                     const std::string& detailsJson, const std::string& at) const;
  /// Walks the audit log in id order and recomputes every hash and link; names the first broken
  /// entry and why (altered, link broken, entry missing, not chained).
  AuditChainReport verifyAuditChain() const;
  /// The engine's own check ("ok" or the problems, one per line).
  std::string integrityCheck() const;
  /// Mask rows whose file is missing or no longer has the recorded SHA-256.
  std::vector<FileProblem> verifyFiles() const;

  struct SweepReport
  {
    bool ran = false;         // false when another process held the write lock
    int tempFilesRemoved = 0; // temporary files of interrupted writes
    int orphanFilesRemoved = 0; // complete mask files whose row was never committed
  };
  /// Removes what a killed writer can leave in files/masks. Runs under the write lock, which
  /// every mask writer holds from before it writes its file until its row is committed, so no
  /// file of a live writer is ever taken. Called on open.
  SweepReport sweepOrphanFiles();
  const SweepReport& openSweepReport() const;

  struct Impl; // opaque; public only so that helpers in the .cpp can name it

private:
  LabelTable modelLabelTable(int64_t modelVersionId) const;
  void hideBlindedMaskSummaries(std::vector<SeriesRecord>& records) const;
  std::unique_ptr<Impl> d;
};
} // namespace panseg::db
