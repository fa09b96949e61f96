#pragma once
// Server mode (PostgreSQL): the objects that exist only on a shared server. Applied by the
// database owner when it opens the database (panseg server init), idempotently:
//  - mask_blobs: the voxels of every mask version (the .nii.gz bytes; no file to open);
//  - the group roles panseg_admin, panseg_coordinator, panseg_reader, panseg_clinician (each a
//    member of panseg_user), cluster-wide, shared by every PanSeg database of the cluster;
//  - privileges: no DELETE for anyone but the owner; users, schema_version and audit_log are
//    changed only through the owner's functions and triggers;
//  - row-level security that applies the reader-study blinding rules (database/Blinding.h) to
//    the signed-in role (session_user), so that a reader with psql and their own password sees
//    what PanSeg would show them and nothing more;
//  - SECURITY DEFINER functions for account administration (admins only) and a trigger that
//    makes every audit entry carry the signed-in role's name.
// See docs/department-mode.md for the access matrix and how to run a server.

#include <string>
#include <vector>

namespace panseg::db
{
/// Version of the statements below; recorded in panseg_server_setup.
int serverSecurityVersion();
/// The statements, in order; each may run again on a database that already has them.
std::vector<std::string> serverSecurityStatements();
} // namespace panseg::db
