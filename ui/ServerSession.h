#pragma once
// Department mode in the workstation window (docs/department-mode.md). The sign-in itself, the
// URI and the account rules are database/server/SignIn.h and ServerAdmin.h.

namespace panseg::ui
{
class Workstation;

/// Before the main window: when the study database ($PANSEG_DB_DIR) is a server URI, the sign-in
/// dialog; afterwards every connection of this session (docks, child processes) signs in with the
/// same user and password. False when the user cancelled.
bool signInIfServer();

/// After ui::attachWorkstation (on its result): "signed in as" in the status bar, Study > Account (sign in/out,
/// change my password, users and roles), and live refresh of the docks from the server.
void attachServerSession(Workstation& ws);
} // namespace panseg::ui
