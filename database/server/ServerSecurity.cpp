#include "database/server/ServerSecurity.h"

namespace panseg::db
{
int serverSecurityVersion() { return 6; }  // bump when the statements change

namespace
{
// Functions that policies call. They run as the owner (SECURITY DEFINER, fixed search_path), so
// they read every row; what they return depends only on the signed-in role (session_user).
const char* kFunctions[] = {
  // The signed-in user's PanSeg id (NULL for a role that is no active PanSeg user).
  "CREATE OR REPLACE FUNCTION panseg_me() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER"
  " SET search_path = public, pg_temp AS $$"
  " SELECT id FROM users WHERE username = session_user::text AND active = 1 $$",

  // Owner, admins and coordinators see everything.
  "CREATE OR REPLACE FUNCTION panseg_exempt() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER"
  " SET search_path = public, pg_temp AS $$"
  " SELECT session_user::text = (SELECT pg_catalog.pg_get_userbyid(datdba)::text FROM pg_catalog.pg_database"
  "                              WHERE datname = current_database())"
  "   OR (pg_catalog.pg_has_role(session_user, 'panseg_admin', 'MEMBER')"
  "       OR pg_catalog.pg_has_role(session_user, 'panseg_coordinator', 'MEMBER'))"
  "      AND EXISTS (SELECT 1 FROM users WHERE username = session_user::text AND active = 1) $$",

  "CREATE OR REPLACE FUNCTION panseg_is_admin() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER"
  " SET search_path = public, pg_temp AS $$"
  " SELECT session_user::text = (SELECT pg_catalog.pg_get_userbyid(datdba)::text FROM pg_catalog.pg_database"
  "                              WHERE datname = current_database())"
  "   OR pg_catalog.pg_has_role(session_user, 'panseg_admin', 'MEMBER')"
  "      AND EXISTS (SELECT 1 FROM users WHERE username = session_user::text AND active = 1) $$",

  // The blinding rules of database/Blinding.cpp (BlindingRules::reasonHidden), for one mask
  // version and the signed-in user: hidden while an open reader study that the user reads
  // covers the series, unless it is the user's own current read, the user's own mask, or the AI
  // mask of a study whose readers may see it.
  "CREATE OR REPLACE FUNCTION panseg_mask_visible(p_mask bigint, p_series bigint, p_author bigint)"
  " RETURNS boolean LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " DECLARE me bigint; st record; linked record;"
  " BEGIN"
  "   IF panseg_exempt() THEN RETURN true; END IF;"
  "   me := panseg_me();"
  "   IF me IS NULL THEN RETURN false; END IF;"
  "   FOR st IN SELECT s.id, (s.design = 'ai-review' OR s.start_from = 'ai') AS ai_visible,"
  "                    c.ai_mask_version_id AS ai_mask"
  "             FROM reader_studies s JOIN reader_study_cases c ON c.study_id = s.id"
  "             JOIN reader_study_readers r ON r.study_id = s.id"
  "             WHERE s.status = 'open' AND c.series_id = p_series AND r.user_id = me LOOP"
  "     SELECT rr.reader_id, rr.read_number INTO linked FROM reader_study_reads rr"
  "       WHERE rr.study_id = st.id AND rr.series_id = p_series AND rr.mask_version_id = p_mask"
  "       ORDER BY rr.id DESC LIMIT 1;"
  "     IF FOUND THEN"
  "       IF linked.reader_id <> me THEN RETURN false; END IF;"
  "       IF EXISTS (SELECT 1 FROM reader_study_reads rr WHERE rr.study_id = st.id AND rr.series_id = p_series"
  "                  AND rr.reader_id = me AND rr.read_number > linked.read_number) THEN RETURN false; END IF;"
  "       CONTINUE;"
  "     END IF;"
  "     IF p_author <> me AND EXISTS (SELECT 1 FROM reader_study_readers x WHERE x.study_id = st.id"
  "                                   AND x.user_id = p_author) THEN RETURN false; END IF;"
  "     IF p_author = me THEN CONTINUE; END IF;"
  "     IF st.ai_visible AND p_mask = st.ai_mask THEN CONTINUE; END IF;"
  "     RETURN false;"
  "   END LOOP;"
  "   RETURN true;"
  " END $$",

  // A study whose rows may be seen by everyone: closed.
  "CREATE OR REPLACE FUNCTION panseg_study_closed(p_study bigint) RETURNS boolean LANGUAGE sql STABLE"
  " SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " SELECT EXISTS (SELECT 1 FROM reader_studies WHERE id = p_study AND status = 'closed') $$",

  // The head of the audit hash chain (StudyDatabase::appendAudit), which row-level security
  // would otherwise hide from users who see only their own entries. Callers hold the write lock.
  "CREATE OR REPLACE FUNCTION panseg_audit_head() RETURNS TABLE (seq bigint, entry_hash text) LANGUAGE sql STABLE"
  " SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " SELECT a.seq::bigint, a.entry_hash::text FROM audit_log a ORDER BY a.id DESC LIMIT 1 $$",

  // Every audit entry is written in the signed-in role's own name (the owner may write any).
  "CREATE OR REPLACE FUNCTION panseg_audit_actor() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
  " SET search_path = public, pg_temp AS $$"
  " BEGIN"
  "   IF session_user::text = (SELECT pg_catalog.pg_get_userbyid(datdba)::text FROM pg_catalog.pg_database"
  "                            WHERE datname = current_database()) THEN RETURN NEW; END IF;"
  "   IF NEW.actor IS DISTINCT FROM session_user::text OR NEW.user_id IS DISTINCT FROM panseg_me() THEN"
  "     RAISE EXCEPTION 'permission denied: audit entries are written in your own name (%)', session_user;"
  "   END IF;"
  "   RETURN NEW;"
  " END $$",

  // Live updates (database/server/ChangeListener.h): the table and, for reader-study rows, the
  // study id; nothing that blinding hides.
  "CREATE OR REPLACE FUNCTION panseg_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$"
  " BEGIN"
  "   IF TG_TABLE_NAME LIKE 'reader_study_%' THEN"
  "     PERFORM pg_notify('panseg_changes', TG_TABLE_NAME || ':' || NEW.study_id);"
  "   ELSE"
  "     PERFORM pg_notify('panseg_changes', TG_TABLE_NAME);"
  "   END IF;"
  "   RETURN NULL;"
  " END $$",

  // Account administration (admins only). The password arrives as a SCRAM-SHA-256 verifier
  // computed by the client (libpq's PQencryptPasswordConn): the plain text never reaches the
  // server or its logs.
  "CREATE OR REPLACE FUNCTION panseg_add_user(p_name text, p_role text, p_display text, p_verifier text)"
  " RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " DECLARE new_id bigint;"
  " BEGIN"
  "   IF NOT panseg_is_admin() THEN"
  "     RAISE EXCEPTION 'permission denied: only a PanSeg admin adds users'; END IF;"
  "   IF p_role NOT IN ('admin', 'coordinator', 'reader', 'clinician') THEN"
  "     RAISE EXCEPTION 'unknown role %', p_role; END IF;"
  "   IF p_name !~ '^[a-z_][a-z0-9_.-]*$' OR p_name LIKE 'panseg\\_%' OR p_name LIKE 'pg\\_%' THEN"
  "     RAISE EXCEPTION 'invalid user name % (lower-case letters, digits, _ . -)', p_name; END IF;"
  // A user row without a login (copied from a local database: panseg db copy) gets its account.
  "   SELECT id INTO new_id FROM users WHERE username = p_name;"
  "   IF FOUND AND (p_name = (SELECT pg_catalog.pg_get_userbyid(datdba)::text FROM pg_catalog.pg_database"
  "                            WHERE datname = current_database()) OR EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members am"
  "              JOIN pg_catalog.pg_roles g ON g.oid = am.roleid JOIN pg_catalog.pg_roles u ON u.oid = am.member"
  "              WHERE u.rolname = p_name AND g.rolname IN ('panseg_admin', 'panseg_coordinator', 'panseg_reader',"
  "                                                         'panseg_clinician'))) THEN"
  "     RAISE EXCEPTION 'user % already exists', p_name; END IF;"
  "   IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = p_name) THEN"
  "     IF p_verifier IS NULL OR p_verifier = '' THEN"
  "       RAISE EXCEPTION 'a new account needs a password'; END IF;"
  "     EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', p_name, p_verifier);"
  "   ELSIF p_verifier IS NOT NULL AND p_verifier <> '' THEN"
  "     EXECUTE format('ALTER ROLE %I LOGIN PASSWORD %L', p_name, p_verifier);"
  "   END IF;"
  "   EXECUTE format('GRANT %I TO %I', 'panseg_' || p_role, p_name);"
  "   IF new_id IS NOT NULL THEN"
  "     UPDATE users SET role = p_role, active = 1,"
  "       display_name = CASE WHEN coalesce(p_display, '') = '' THEN display_name ELSE p_display END"
  "       WHERE id = new_id;"
  "     RETURN new_id;"
  "   END IF;"
  "   INSERT INTO users (username, display_name, role, active, created_at)"
  "     VALUES (p_name, coalesce(p_display, ''), p_role, 1,"
  "             to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
  "     RETURNING id INTO new_id;"
  "   RETURN new_id;"
  " END $$",

  "CREATE OR REPLACE FUNCTION panseg_set_user_role(p_name text, p_role text) RETURNS void LANGUAGE plpgsql"
  " SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " DECLARE r text;"
  " BEGIN"
  "   IF NOT panseg_is_admin() THEN"
  "     RAISE EXCEPTION 'permission denied: only a PanSeg admin changes roles'; END IF;"
  "   IF p_role NOT IN ('admin', 'coordinator', 'reader', 'clinician') THEN"
  "     RAISE EXCEPTION 'unknown role %', p_role; END IF;"
  "   IF NOT EXISTS (SELECT 1 FROM users WHERE username = p_name) THEN"
  "     RAISE EXCEPTION 'no PanSeg user %', p_name; END IF;"
  "   FOR r IN SELECT g.rolname FROM pg_catalog.pg_auth_members am"
  "            JOIN pg_catalog.pg_roles g ON g.oid = am.roleid JOIN pg_catalog.pg_roles u ON u.oid = am.member"
  "            WHERE u.rolname = p_name"
  "              AND g.rolname IN ('panseg_admin', 'panseg_coordinator', 'panseg_reader', 'panseg_clinician') LOOP"
  "     EXECUTE format('REVOKE %I FROM %I', r, p_name);"
  "   END LOOP;"
  "   EXECUTE format('GRANT %I TO %I', 'panseg_' || p_role, p_name);"
  "   UPDATE users SET role = p_role WHERE username = p_name;"
  " END $$",

  "CREATE OR REPLACE FUNCTION panseg_set_user_active(p_name text, p_active boolean) RETURNS void"
  " LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " BEGIN"
  "   IF NOT panseg_is_admin() THEN"
  "     RAISE EXCEPTION 'permission denied: only a PanSeg admin disables users'; END IF;"
  "   IF NOT EXISTS (SELECT 1 FROM users WHERE username = p_name) THEN"
  "     RAISE EXCEPTION 'no PanSeg user %', p_name; END IF;"
  "   IF p_name = session_user::text AND NOT p_active IS DISTINCT FROM false THEN"
  "     RAISE EXCEPTION 'you cannot disable your own account'; END IF;"
  "   EXECUTE format(CASE WHEN p_active THEN 'ALTER ROLE %I LOGIN' ELSE 'ALTER ROLE %I NOLOGIN' END, p_name);"
  "   UPDATE users SET active = CASE WHEN p_active THEN 1 ELSE 0 END WHERE username = p_name;"
  " END $$",

  // Account expiry: PostgreSQL's VALID UNTIL (after it, the password no longer signs in);
  // NULL = never.
  "CREATE OR REPLACE FUNCTION panseg_set_user_expiry(p_name text, p_until timestamptz) RETURNS void"
  " LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$"
  " BEGIN"
  "   IF NOT panseg_is_admin() THEN"
  "     RAISE EXCEPTION 'permission denied: only a PanSeg admin sets account expiry'; END IF;"
  "   IF NOT EXISTS (SELECT 1 FROM users WHERE username = p_name) THEN"
  "     RAISE EXCEPTION 'no PanSeg user %', p_name; END IF;"
  "   IF p_name = session_user::text AND p_until IS NOT NULL THEN"
  "     RAISE EXCEPTION 'you cannot set an expiry on your own account'; END IF;"
  "   EXECUTE format('ALTER ROLE %I VALID UNTIL %L', p_name,"
  "                  coalesce(to_char(p_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00', 'infinity'));"
  " END $$",
};

/// Tables every PanSeg user reads and writes (rows, never deletes), and those with blinding.
const char* kUserTables[] = { "patients", "studies", "series", "mask_versions", "mask_blobs", "jobs", "model_versions",
                              "model_defaults", "reader_studies", "reader_study_readers", "reader_study_cases",
                              "reader_study_reads", "reader_study_ratings", "reader_study_consensus",
                              "mask_plausibility", "reference_mask_rules", "mask_label_tables" };
} // namespace

std::vector<std::string> serverSecurityStatements()
{
  std::vector<std::string> out;
  out.push_back("CREATE TABLE IF NOT EXISTS panseg_server_setup (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)");
  // The voxels of each mask version: the compressed NIfTI bytes whose SHA-256 the row holds.
  out.push_back("CREATE TABLE IF NOT EXISTS mask_blobs ("
                " mask_version_id BIGINT PRIMARY KEY REFERENCES mask_versions(id),"
                " data BYTEA NOT NULL)");
  out.push_back("DROP TRIGGER IF EXISTS mask_blobs_no_update ON mask_blobs");
  out.push_back("DROP TRIGGER IF EXISTS mask_blobs_no_delete ON mask_blobs");
  out.push_back("CREATE OR REPLACE FUNCTION panseg_refuse_mask_blobs() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'stored masks are immutable; save a new version instead'; END $$");
  out.push_back("CREATE TRIGGER mask_blobs_no_update BEFORE UPDATE ON mask_blobs FOR EACH ROW"
                " EXECUTE FUNCTION panseg_refuse_mask_blobs()");
  out.push_back("CREATE TRIGGER mask_blobs_no_delete BEFORE DELETE ON mask_blobs FOR EACH ROW"
                " EXECUTE FUNCTION panseg_refuse_mask_blobs()");

  // Group roles (cluster-wide; the owner needs CREATEROLE).
  for (const char* role : { "panseg_user", "panseg_admin", "panseg_coordinator", "panseg_reader", "panseg_clinician" })
    out.push_back(std::string("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '") +
                  role + "') THEN CREATE ROLE " + role + " NOLOGIN; END IF; END $$");
  for (const char* role : { "panseg_admin", "panseg_coordinator", "panseg_reader", "panseg_clinician" })
    out.push_back(std::string("GRANT panseg_user TO ") + role);

  // Only PanSeg users connect to this database.
  out.push_back("DO $$ BEGIN EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());"
                " EXECUTE format('GRANT CONNECT ON DATABASE %I TO panseg_user', current_database()); END $$");
  for (const char* f : kFunctions)
    out.push_back(f);
  out.push_back("REVOKE ALL ON FUNCTION panseg_add_user(text, text, text, text), panseg_set_user_role(text, text),"
                " panseg_set_user_active(text, boolean), panseg_set_user_expiry(text, timestamptz) FROM PUBLIC");
  out.push_back("GRANT EXECUTE ON FUNCTION panseg_add_user(text, text, text, text), panseg_set_user_role(text, text),"
                " panseg_set_user_active(text, boolean), panseg_set_user_expiry(text, timestamptz) TO panseg_user");

  // Privileges: nothing for PUBLIC; read for every PanSeg user; write rows but never delete.
  out.push_back("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC");
  out.push_back("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
  out.push_back("GRANT USAGE ON SCHEMA public TO panseg_user");
  out.push_back("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM panseg_user");
  out.push_back("GRANT SELECT ON ALL TABLES IN SCHEMA public TO panseg_user");
  std::string tables;
  for (const char* t : kUserTables)
    tables += (tables.empty() ? "" : ", ") + std::string(t);
  out.push_back("GRANT INSERT, UPDATE ON " + tables + " TO panseg_user");
  out.push_back("GRANT INSERT ON audit_log TO panseg_user");
  out.push_back("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO panseg_user");
  out.push_back("DROP TRIGGER IF EXISTS audit_log_actor ON audit_log");
  out.push_back("CREATE TRIGGER audit_log_actor BEFORE INSERT ON audit_log FOR EACH ROW"
                " EXECUTE FUNCTION panseg_audit_actor()");

  for (const char* t : { "mask_versions", "jobs", "series", "reader_studies", "reader_study_reads",
                         "reader_study_ratings", "reader_study_consensus" })
  {
    out.push_back(std::string("DROP TRIGGER IF EXISTS ") + t + "_notify ON " + t);
    out.push_back(std::string("CREATE TRIGGER ") + t + "_notify AFTER INSERT OR UPDATE ON " + t +
                  " FOR EACH ROW EXECUTE FUNCTION panseg_notify_change()");
  }

  // Row-level security. FORCE is not set: the owner (who runs init and migrations) sees all.
  struct Policy
  {
    const char* table;
    const char* select;
    const char* insert;
    const char* update;
  };
  const Policy policies[] = {
    { "mask_versions", "panseg_mask_visible(id, series_id, author_user_id)",
      "panseg_exempt() OR author_user_id = panseg_me()",
      "panseg_exempt() OR (author_user_id = panseg_me() AND panseg_mask_visible(id, series_id, author_user_id))" },
    { "mask_blobs", "EXISTS (SELECT 1 FROM mask_versions m WHERE m.id = mask_version_id)",
      "EXISTS (SELECT 1 FROM mask_versions m WHERE m.id = mask_version_id)", "false" },
    { "reader_study_reads", "panseg_exempt() OR reader_id = panseg_me() OR panseg_study_closed(study_id)",
      "panseg_exempt()", "panseg_exempt() OR reader_id = panseg_me()" },
    { "reader_study_ratings", "panseg_exempt() OR reader_id = panseg_me() OR panseg_study_closed(study_id)",
      "panseg_exempt() OR reader_id = panseg_me()", "panseg_exempt() OR reader_id = panseg_me()" },
    { "reader_study_consensus", "panseg_exempt() OR panseg_study_closed(study_id)", "panseg_exempt()",
      "panseg_exempt()" },
    { "reader_studies", "true", "panseg_exempt()", "panseg_exempt()" },
    { "reader_study_readers", "true", "panseg_exempt()", "panseg_exempt()" },
    { "reader_study_cases", "true", "panseg_exempt()", "panseg_exempt()" },
    { "audit_log", "panseg_exempt() OR user_id = panseg_me()", "true", "false" },
    { "model_defaults", "true", "panseg_exempt()", "panseg_exempt()" },
    // The check of a mask version is visible (and written) exactly when the version is: a
    // blinded reader learns nothing about a hidden AI mask from its plausibility row.
    { "mask_plausibility", "EXISTS (SELECT 1 FROM mask_versions m WHERE m.id = mask_version_id)",
      "EXISTS (SELECT 1 FROM mask_versions m WHERE m.id = mask_version_id)", "false" },
    // A label table likewise: a blinded reader sees none of another reader's (or a hidden AI
    // mask's) label names, and writes one only with a version they may write.
    { "mask_label_tables", "EXISTS (SELECT 1 FROM mask_versions m WHERE m.id = mask_version_id)",
      "EXISTS (SELECT 1 FROM mask_versions m WHERE m.id = mask_version_id)", "false" },
    // Everyone reads the rule in force (volume tables, reports); only coordinators and admins set
    // one, in their own name.
    { "reference_mask_rules", "true", "panseg_exempt() AND set_by = panseg_me()", "false" },
  };
  for (const Policy& p : policies)
  {
    const std::string t = p.table;
    out.push_back("ALTER TABLE " + t + " ENABLE ROW LEVEL SECURITY");
    for (const char* cmd : { "select", "insert", "update" })
      out.push_back("DROP POLICY IF EXISTS panseg_" + std::string(cmd) + " ON " + t);
    out.push_back("CREATE POLICY panseg_select ON " + t + " FOR SELECT USING (" + p.select + ")");
    out.push_back("CREATE POLICY panseg_insert ON " + t + " FOR INSERT WITH CHECK (" + p.insert + ")");
    out.push_back("CREATE POLICY panseg_update ON " + t + " FOR UPDATE USING (" + p.update + ") WITH CHECK (" +
                  p.update + ")");
  }
  out.push_back("INSERT INTO panseg_server_setup (version, applied_at) VALUES (" +
                std::to_string(serverSecurityVersion()) +
                ", to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
                " ON CONFLICT (version) DO NOTHING");
  return out;
}
} // namespace panseg::db
