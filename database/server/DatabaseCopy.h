#pragma once
// Moving to a server: copies a local study database (a data folder) into a PostgreSQL database
// that `panseg server init` prepared, in one transaction (all or nothing), and verifies it.
//
// Run by the target database's owner (who bypasses row-level security and may write audit
// entries in anyone's name). Ids of series, masks, reader studies, models and jobs are kept;
// users are matched by name (a local user absent from the server becomes a PanSeg user row
// without a login: an admin attaches an account later with `panseg server user add NAME
// --role R`); audit entries are appended after the server's own, with their actors. Mask files
// are checked against their SHA-256 before they go into mask_blobs, and the server's SHA-256 of
// every stored mask is compared before the transaction commits. The local folder is only read.
#include "database/StudyDatabase.h"

#include <map>
#include <string>
#include <vector>

namespace panseg::db
{
struct DatabaseCopyReport
{
  std::string from, to;          // the folder and the URI (without password)
  std::map<std::string, long long> rows; // per copied table (users: the local rows)
  long long maskBytes = 0;       // compressed mask bytes stored in mask_blobs
  int masksVerified = 0;         // masks whose SHA-256 the server computed and matched
  std::vector<User> usersCreated;         // PanSeg user rows without a login role (need accounts)
  std::vector<std::string> usersMatched;  // local names that already were users of the server
  std::vector<std::string> invalidLoginNames; // created users whose name cannot be a login role
  double seconds = 0;
};

/// Copies `dataFolder` into the server database `uri` as its owner. Throws Error (nothing is
/// written) when the folder is no PanSeg database or a mask file is missing or altered, when
/// the target is not set up ("its owner runs: panseg server init ..."), already holds data,
/// or the signed-in role is not its owner.
DatabaseCopyReport copyDatabaseToServer(const std::string& dataFolder, const std::string& uri,
                                        const StudyDatabase::OpenOptions& options = {});
} // namespace panseg::db
