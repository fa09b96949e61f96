#pragma once
#include <QString>
#include <QStringList>
#include <string>

namespace panseg::cli
{
/// panseg server init|user|password|whoami ... (department mode on PostgreSQL).
int serverCommand(const QStringList& args);
QString serverUsage();
/// Asks for a password on the controlling terminal without echo; empty when there is none.
std::string terminalPassword(const std::string& prompt);
/// GUI, before the main window: when the study database is a server URI, the sign-in dialog
/// (ServerGui.cpp). False when the user cancelled.
bool signInIfServer();
} // namespace panseg::cli

namespace panseg::ui
{
class MainWindow;
}

namespace panseg::cli
{
/// GUI: "signed in as" in the status bar, Study > Account, live refresh from the server.
void attachServerSession(ui::MainWindow& w);
} // namespace panseg::cli
