#include "database/Schema.h"

namespace panseg::db
{
std::string schemaVersionTableSql()
{
  return "CREATE TABLE IF NOT EXISTS schema_version ("
         " version INTEGER NOT NULL PRIMARY KEY,"
         " description TEXT NOT NULL,"
         " applied_at TEXT NOT NULL)";
}

std::vector<Migration> schemaMigrations(const SqlDialect& d)
{
  const std::string id = d.idColumn();
  std::vector<Migration> out;
  const std::vector<std::string> frozenMaskColumns = { "id", "series_id", "parent_id", "author_user_id",
                                                       "model_version_id", "source", "created_at", "file_path",
                                                       "sha256", "content_hash", "voxel_count", "volume_ml",
                                                       "label_volumes", "note", "imported_from" };
  const char* frozenMaskMessage = "mask versions are immutable; save a new version instead";

  // ---- 1: the study database -------------------------------------------------------------
  Migration m1;
  m1.version = 1;
  m1.description = "patients, studies, series, mask versions, users, model registry, jobs, audit log";
  m1.statements = {
    "CREATE TABLE users ("
    " id " + id + ","
    " username TEXT NOT NULL UNIQUE,"
    " display_name TEXT NOT NULL DEFAULT '',"
    " role TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'reader', 'clinician')),"
    " active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),"
    " created_at TEXT NOT NULL)",

    "CREATE TABLE patients ("
    " id " + id + ","
    " patient_key TEXT NOT NULL UNIQUE,"
    " patient_id TEXT NOT NULL DEFAULT '',"
    " patient_name TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL)",

    "CREATE TABLE studies ("
    " id " + id + ","
    " patient_id INTEGER NOT NULL REFERENCES patients(id),"
    " study_key TEXT NOT NULL UNIQUE,"
    " study_instance_uid TEXT NOT NULL DEFAULT '',"
    " study_date TEXT NOT NULL DEFAULT '',"
    " description TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX studies_patient ON studies(patient_id)",

    "CREATE TABLE series ("
    " id " + id + ","
    " study_id INTEGER NOT NULL REFERENCES studies(id),"
    " series_instance_uid TEXT NOT NULL DEFAULT '',"
    " description TEXT NOT NULL DEFAULT '',"
    " modality TEXT NOT NULL CHECK (modality IN ('CT', 'MRI-T1W', 'MRI-T2W', 'MRI', 'other')),"
    " modality_source TEXT NOT NULL DEFAULT 'unknown',"
    " dicom_modality TEXT NOT NULL DEFAULT '',"
    " center TEXT NOT NULL DEFAULT '',"
    " acquisition_date TEXT NOT NULL DEFAULT '',"
    " size_x INTEGER NOT NULL, size_y INTEGER NOT NULL, size_z INTEGER NOT NULL,"
    " spacing_x_mm REAL NOT NULL, spacing_y_mm REAL NOT NULL, spacing_z_mm REAL NOT NULL,"
    " origin_x_mm REAL NOT NULL, origin_y_mm REAL NOT NULL, origin_z_mm REAL NOT NULL,"
    " direction TEXT NOT NULL," // nine numbers, row-major, space-separated
    " format TEXT NOT NULL,"
    " source_path TEXT NOT NULL,"
    " content_hash TEXT NOT NULL UNIQUE,"
    " file_count INTEGER NOT NULL DEFAULT 1,"
    " imported_at TEXT NOT NULL,"
    " imported_by INTEGER REFERENCES users(id))",
    "CREATE INDEX series_study ON series(study_id)",

    "CREATE TABLE model_versions ("
    " id " + id + ","
    " model_id TEXT NOT NULL,"
    " version TEXT NOT NULL,"
    " parent_id INTEGER REFERENCES model_versions(id),"
    " files_json TEXT NOT NULL DEFAULT '[]',"
    " description TEXT NOT NULL DEFAULT '',"
    " created_at TEXT NOT NULL,"
    " created_by INTEGER REFERENCES users(id),"
    " UNIQUE (model_id, version))",

    "CREATE TABLE mask_versions ("
    " id " + id + ","
    " series_id INTEGER NOT NULL REFERENCES series(id),"
    " parent_id INTEGER REFERENCES mask_versions(id),"
    " author_user_id INTEGER NOT NULL REFERENCES users(id),"
    " model_version_id INTEGER REFERENCES model_versions(id),"
    " source TEXT NOT NULL CHECK (source IN ('ai', 'reader', 'consensus', 'import')),"
    " state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'approved', 'rejected')),"
    " created_at TEXT NOT NULL,"
    " state_changed_at TEXT NOT NULL,"
    " file_path TEXT NOT NULL UNIQUE,"
    " sha256 TEXT NOT NULL,"
    " content_hash TEXT NOT NULL,"
    " voxel_count INTEGER NOT NULL,"
    " volume_ml REAL NOT NULL,"
    " label_volumes TEXT NOT NULL DEFAULT '{}',"
    " note TEXT NOT NULL DEFAULT '',"
    " imported_from TEXT NOT NULL DEFAULT '',"
    " CHECK (source <> 'ai' OR model_version_id IS NOT NULL))",
    "CREATE INDEX mask_versions_series ON mask_versions(series_id, content_hash)",

    "CREATE TABLE jobs ("
    " id " + id + ","
    " kind TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),"
    " params_json TEXT NOT NULL DEFAULT '{}',"
    " progress REAL NOT NULL DEFAULT 0,"
    " message TEXT NOT NULL DEFAULT '',"
    " series_id INTEGER REFERENCES series(id),"
    " model_version_id INTEGER REFERENCES model_versions(id),"
    " result_mask_version_id INTEGER REFERENCES mask_versions(id),"
    " created_by INTEGER REFERENCES users(id),"
    " created_at TEXT NOT NULL,"
    " started_at TEXT NOT NULL DEFAULT '',"
    " finished_at TEXT NOT NULL DEFAULT '')",

    "CREATE TABLE audit_log ("
    " id " + id + ","
    " at TEXT NOT NULL,"
    " user_id INTEGER REFERENCES users(id),"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " table_name TEXT NOT NULL DEFAULT '',"
    " record_id INTEGER,"
    " details TEXT NOT NULL DEFAULT '{}')",
    "CREATE INDEX audit_log_record ON audit_log(table_name, record_id)",
  };
  for (auto& s : d.appendOnlyTriggers("audit_log", "the audit log is append-only"))
    m1.statements.push_back(s);
  for (auto& s : d.appendOnlyTriggers("model_versions", "model versions are immutable"))
    m1.statements.push_back(s);
  // A mask version is immutable: only its review state (and when it changed) may be updated.
  for (auto& s : d.frozenColumnsTriggers("mask_versions", frozenMaskColumns, frozenMaskMessage))
    m1.statements.push_back(s);
  out.push_back(m1);

  // ---- 2: indexes for the study browser's filters -------------------------------------------
  Migration m2;
  m2.version = 2;
  m2.description = "indexes for browsing by modality, center and study date";
  m2.statements = {
    "CREATE INDEX series_modality ON series(modality)",
    "CREATE INDEX series_center ON series(center)",
    "CREATE INDEX studies_date ON studies(study_date)",
  };
  out.push_back(m2);

  // ---- 3: reader studies (ReaderStudy.h) ----------------------------------------------------
  // "reader_studies" because "studies" already holds the DICOM studies. Reads keep the reading
  // order, state and the submitted mask version; ratings are the AI-review verdicts.
  Migration m3;
  m3.version = 3;
  m3.description = "reader studies: studies, readers, cases, reads, AI-review ratings, consensus masks";
  m3.statements = {
    "CREATE TABLE reader_studies ("
    " id " + id + ","
    " name TEXT NOT NULL UNIQUE,"
    " design TEXT NOT NULL CHECK (design IN ('inter', 'intra', 'ai-review')),"
    " washout_days INTEGER NOT NULL DEFAULT 0 CHECK (washout_days >= 0),"
    " start_from TEXT NOT NULL CHECK (start_from IN ('scratch', 'ai')),"
    " label INTEGER NOT NULL DEFAULT 0,"
    " seed INTEGER NOT NULL DEFAULT 1,"
    " status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),"
    " description TEXT NOT NULL DEFAULT '',"
    " created_by INTEGER NOT NULL REFERENCES users(id),"
    " created_at TEXT NOT NULL)",

    "CREATE TABLE reader_study_readers ("
    " study_id INTEGER NOT NULL REFERENCES reader_studies(id),"
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " PRIMARY KEY (study_id, user_id))",
    "CREATE INDEX reader_study_readers_user ON reader_study_readers(user_id)",

    "CREATE TABLE reader_study_cases ("
    " study_id INTEGER NOT NULL REFERENCES reader_studies(id),"
    " series_id INTEGER NOT NULL REFERENCES series(id),"
    " ai_mask_version_id INTEGER REFERENCES mask_versions(id),"
    " PRIMARY KEY (study_id, series_id))",
    "CREATE INDEX reader_study_cases_series ON reader_study_cases(series_id)",

    "CREATE TABLE reader_study_reads ("
    " id " + id + ","
    " study_id INTEGER NOT NULL REFERENCES reader_studies(id),"
    " reader_id INTEGER NOT NULL REFERENCES users(id),"
    " series_id INTEGER NOT NULL REFERENCES series(id),"
    " read_number INTEGER NOT NULL CHECK (read_number IN (1, 2)),"
    " order_position INTEGER NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (state IN ('pending', 'in-progress', 'submitted', 'approved', 'returned')),"
    " mask_version_id INTEGER REFERENCES mask_versions(id),"
    " unlock_at TEXT NOT NULL DEFAULT '',"
    " started_at TEXT NOT NULL DEFAULT '',"
    " submitted_at TEXT NOT NULL DEFAULT '',"
    " reviewed_by INTEGER REFERENCES users(id),"
    " reviewed_at TEXT NOT NULL DEFAULT '',"
    " comment TEXT NOT NULL DEFAULT '',"
    " UNIQUE (study_id, reader_id, series_id, read_number))",
    "CREATE INDEX reader_study_reads_series ON reader_study_reads(series_id)",
    "CREATE INDEX reader_study_reads_mask ON reader_study_reads(mask_version_id)",

    "CREATE TABLE reader_study_ratings ("
    " id " + id + ","
    " study_id INTEGER NOT NULL REFERENCES reader_studies(id),"
    " reader_id INTEGER NOT NULL REFERENCES users(id),"
    " series_id INTEGER NOT NULL REFERENCES series(id),"
    " ai_mask_version_id INTEGER REFERENCES mask_versions(id),"
    " rating TEXT NOT NULL CHECK (rating IN ('accept', 'minor', 'major', 'reject')),"
    " rated_at TEXT NOT NULL,"
    " UNIQUE (study_id, reader_id, series_id))",

    "CREATE TABLE reader_study_consensus ("
    " id " + id + ","
    " study_id INTEGER NOT NULL REFERENCES reader_studies(id),"
    " series_id INTEGER NOT NULL REFERENCES series(id),"
    " mask_version_id INTEGER NOT NULL REFERENCES mask_versions(id),"
    " method TEXT NOT NULL,"
    " inputs TEXT NOT NULL DEFAULT '[]'," // JSON array of the mask versions voted on
    " created_by INTEGER NOT NULL REFERENCES users(id),"
    " created_at TEXT NOT NULL)",
  };
  out.push_back(m3);

  // ---- 4: default model per modality (database/jobs/FineTuning.h promoteModel) -------------------
  Migration m4;
  m4.version = 4;
  m4.description = "default model per modality (promotion of fine-tuned models)";
  m4.statements = {
    "CREATE TABLE model_defaults ("
    " modality TEXT PRIMARY KEY,"
    " model_version_id INTEGER NOT NULL REFERENCES model_versions(id),"
    " promoted_by INTEGER REFERENCES users(id),"
    " promoted_at TEXT NOT NULL)",
  };
  out.push_back(m4);

  // ---- 5: hash chain of the audit log (StudyDatabase::verifyAuditChain) ----------------------
  // Each entry holds its sequence number, the hash of the entry before it and the SHA-256 of its
  // own columns plus that hash. The append-only triggers are dropped while the existing entries
  // are chained (in C++: step "chain-audit-log") and recreated in the same transaction.
  Migration m5;
  m5.version = 5;
  m5.description = "hash chain of the audit log (seq, prev_hash, entry_hash)";
  m5.statements = d.dropAppendOnlyTriggers("audit_log");
  m5.statements.push_back("ALTER TABLE audit_log ADD COLUMN seq INTEGER");
  m5.statements.push_back("ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT ''");
  m5.statements.push_back("ALTER TABLE audit_log ADD COLUMN entry_hash TEXT NOT NULL DEFAULT ''");
  m5.step = "chain-audit-log";
  m5.statementsAfterStep = d.appendOnlyTriggers("audit_log", "the audit log is append-only");
  out.push_back(m5);

  // ---- 6: an imported mask exists once per series ------------------------------------------
  // Two concurrent imports of one folder used to add every mask twice. Step
  // "remove-duplicate-import-masks" removes such twins when nothing refers to them and they are
  // in the same review state as the first copy (else the migration is refused, naming them);
  // the immutability triggers are dropped for that and recreated.
  Migration m6;
  m6.version = 6;
  m6.description = "an imported mask exists once per series (unique series and content hash)";
  m6.statements = { d.dropTrigger("mask_versions", "mask_versions_frozen"),
                    d.dropTrigger("mask_versions", "mask_versions_no_delete") };
  m6.step = "remove-duplicate-import-masks";
  m6.statementsAfterStep = d.frozenColumnsTriggers("mask_versions", frozenMaskColumns, frozenMaskMessage);
  m6.statementsAfterStep.push_back("CREATE UNIQUE INDEX mask_versions_import_once ON mask_versions(series_id, content_hash)"
                                   " WHERE source = 'import'");
  out.push_back(m6);

  // ---- 7: plausibility of AI masks, the reference-mask rule ----------------------------------
  // mask_plausibility: the plausibility check of an AI mask version (core/metrics/Plausibility.h),
  // written in the transaction that saves the version and as immutable as it.
  // reference_mask_rules: which approved version represents a series in volume tables and
  // reports (database/studies/ReferenceMask.h): the newest row of a scope is in force; older rows are its
  // history (append-only). Scope "database" (study_id NULL) or one reader study.
  Migration m7;
  m7.version = 7;
  m7.description = "plausibility checks of AI masks; reference-mask rules (latest approved, consensus, a reader)";
  m7.statements = {
    "CREATE TABLE mask_plausibility ("
    " mask_version_id INTEGER NOT NULL PRIMARY KEY REFERENCES mask_versions(id),"
    " flagged INTEGER NOT NULL CHECK (flagged IN (0, 1)),"
    " summary TEXT NOT NULL,"
    " findings TEXT NOT NULL DEFAULT '[]'," // JSON array of finding codes
    " details TEXT NOT NULL DEFAULT '{}',"  // JSON: volume, components, share, centroid, messages, limits
    " limits_source TEXT NOT NULL DEFAULT 'defaults',"
    " checked_at TEXT NOT NULL)",

    "CREATE TABLE reference_mask_rules ("
    " id " + id + ","
    " scope TEXT NOT NULL CHECK (scope IN ('database', 'study')),"
    " study_id INTEGER REFERENCES reader_studies(id),"
    " rule TEXT NOT NULL CHECK (rule IN ('latest', 'consensus', 'reader')),"
    " reader_user_id INTEGER REFERENCES users(id),"
    " set_by INTEGER NOT NULL REFERENCES users(id),"
    " set_at TEXT NOT NULL,"
    " CHECK ((scope = 'database') = (study_id IS NULL)),"
    " CHECK ((rule = 'reader') = (reader_user_id IS NOT NULL)))",
    "CREATE INDEX reference_mask_rules_scope ON reference_mask_rules(scope, study_id)",
  };
  for (auto& s : d.appendOnlyTriggers("mask_plausibility", "plausibility checks are immutable, like mask versions"))
    m7.statements.push_back(s);
  for (auto& s : d.appendOnlyTriggers("reference_mask_rules",
                                      "reference-mask rules are append-only; set a new rule instead"))
    m7.statements.push_back(s);
  out.push_back(m7);

  // ---- 8: prediction during from-scratch reads is a study setting ---------------------------
  // Off by default: readers of a from-scratch study must not see the AI's answer. Coordinators
  // set it at creation or later (ReaderStudy::setAllowPrediction, audited). On a server the
  // column is covered by the reader_studies privileges and policies (only coordinators and
  // admins update the row).
  Migration m8;
  m8.version = 8;
  m8.description = "reader studies: allow AI prediction during from-scratch reads (off by default)";
  m8.statements = {
    "ALTER TABLE reader_studies ADD COLUMN allow_prediction INTEGER NOT NULL DEFAULT 0"
    " CHECK (allow_prediction IN (0, 1))",
  };
  out.push_back(m8);

  // ---- 9: label tables -------------------------------------------------------------------------
  // mask_label_tables: the label table of a mask version (name, colour and DICOM SEG codes per
  // label value, JSON; database/LabelTables.h), written in the transaction that saves the version
  // and as immutable as it. Versions saved before version 9 have no row: the defaults apply.
  Migration m9;
  m9.version = 9;
  m9.description = "label tables of mask versions (names, colours, DICOM SEG codes)";
  m9.statements = {
    "CREATE TABLE mask_label_tables ("
    " mask_version_id INTEGER NOT NULL PRIMARY KEY REFERENCES mask_versions(id),"
    " labels TEXT NOT NULL," // JSON array (database/LabelTables.h)
    " created_at TEXT NOT NULL)",
  };
  for (auto& s : d.appendOnlyTriggers("mask_label_tables", "label tables are immutable, like mask versions"))
    m9.statements.push_back(s);
  out.push_back(m9);
  return out;
}

int latestSchemaVersion() { return 9; }
} // namespace panseg::db
