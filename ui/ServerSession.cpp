// Department mode in the main window (docs/department-mode.md): the sign-in dialog before the
// window when the study database is a PostgreSQL server, "signed in as" in the status bar, the
// account actions, and live refresh of the docks when another workstation changes something.
#include "ui/ServerSession.h"

#include "database/StudyDatabase.h"
#include "database/server/ChangeListener.h"
#include "database/server/SignIn.h"
#include "database/session/WorkstationSession.h"
#include "ui/AccountDialogs.h"
#include "ui/JobsDock.h"
#include "ui/MainWindow.h"
#include "ui/ReaderStudyPanel.h"
#include "ui/ReviewPanel.h"
#include "ui/StudyBrowser.h"
#include "ui/Workstation.h"

#include <QApplication>
#include <QInputDialog>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QProcess>
#include <QRegularExpression>
#include <QStatusBar>

namespace panseg::ui
{
namespace
{
QString g_password; // the session's password, in memory only

/// Starts a new workstation process on `location` (the sign-in dialog opens there) and closes
/// this one once its window agreed to close (unsaved edits are asked about first).
void restartOn(MainWindow& w, const QString& location)
{
  if (!w.close())
    return;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  QStringList envList;
  for (const QString& key : env.keys())
    if (key != "PANSEG_DB_DIR")
      envList << key + "=" + env.value(key);
  if (!location.isEmpty())
    envList << "PANSEG_DB_DIR=" + location;
  QProcess p;
  p.setProgram(QCoreApplication::applicationFilePath());
  p.setEnvironment(envList);
  p.startDetached();
  QApplication::quit();
}
} // namespace

bool signInIfServer()
{
  const std::string location = db::StudyDatabase::defaultDataFolder();
  if (!db::SqlDialect::isServerLocation(location))
    return true;
  // The profile shown is the server without a user; the dialog adds the user.
  SignInDialog dialog(QString::fromStdString(location).replace(QRegularExpression("//[^@/]*@"), "//"));
  if (dialog.exec() != QDialog::Accepted)
    return false;
  g_password = dialog.password();
  qputenv("PANSEG_DB_DIR", dialog.location().toUtf8());
  // Child processes of this session (training jobs, evaluation) sign in the libpq way.
  if (!g_password.isEmpty())
    qputenv("PGPASSWORD", g_password.toUtf8());
  const QString password = g_password;
  db::StudyDatabase::setDefaultPasswordPrompt([password](const std::string&) { return password.toStdString(); });
  return true;
}

void attachServerSession(Workstation& ws)
{
  MainWindow& w = *ws.window;
  StudyBrowser* browser = ws.browser;
  db::StudyDatabase* database = ws.session ? ws.session->database() : nullptr;
  auto* summary = new QLabel(&w);
  summary->setObjectName("sessionLabel");
  summary->setText(database ? QString::fromStdString(db::sessionSummary(*database))
                            : QObject::tr("no study database"));
  w.statusBar()->addPermanentWidget(summary);

  QMenu* study = ws.studyMenu;
  if (!study)
    return;
  QMenu* account = study->addMenu(QObject::tr("&Account"));
  account->setObjectName("accountMenu");
  const bool server = database && database->isServer();
  QAction* signIn = account->addAction(server ? QObject::tr("Sign &Out") : QObject::tr("Sign &In to Department Server..."));
  signIn->setObjectName(server ? "signOutAction" : "signInAction");
  QObject::connect(signIn, &QAction::triggered, &w, [&w, server] {
    if (server)
    {
      restartOn(w, QString::fromStdString(db::StudyDatabase::defaultDataFolder()));
      return;
    }
    bool ok = false;
    const QString uri = QInputDialog::getText(&w, QObject::tr("Department server"),
                                              QObject::tr("Server (postgresql://host[:port]/database):"),
                                              QLineEdit::Normal, "postgresql://", &ok);
    if (ok && db::SqlDialect::isServerLocation(uri.toStdString()))
      restartOn(w, uri);
    else if (ok)
      QMessageBox::warning(&w, QObject::tr("Department server"),
                           QObject::tr("A department server is a PostgreSQL URI: postgresql://host[:port]/database"));
  });
  QAction* password = account->addAction(QObject::tr("Change My &Password..."));
  password->setObjectName("changePasswordAction");
  password->setEnabled(server);
  QObject::connect(password, &QAction::triggered, &w, [&w, browser] {
    if (browser && browser->database())
      ChangePasswordDialog(*browser->database(), &w).exec();
  });
  QAction* users = account->addAction(QObject::tr("&Users and Roles..."));
  users->setObjectName("usersAction");
  users->setEnabled(database && database->currentUser().role == db::Role::Admin);
  QObject::connect(users, &QAction::triggered, &w, [&w, browser] {
    if (browser && browser->database())
      UsersDialog(*browser->database(), &w).exec();
  });

  if (!server)
    return;
  // Live: another workstation's change refreshes the docks within about a second.
  db::StudyDatabase::OpenOptions o;
  o.password = g_password.toStdString();
  auto* listener = new db::ChangeListener(db::StudyDatabase::defaultDataFolder(), o, &w);
  Workstation* wsp = &ws;
  QObject::connect(listener, &db::ChangeListener::changed, &w, [&w, wsp](const QString& what) {
    if (auto* panel = wsp->readerPanel; panel && what.startsWith("reader_stud"))
    {
      panel->refresh();
      w.reapplyPredictionPolicy(); // a coordinator may have allowed or forbidden prediction
    }
    // The coordinator's review queue: submitted reads, consensus masks, versions submitted outside
    // a study (one submit notifies several tables: refreshed once after the burst).
    if (auto* review = wsp->review;
        review && (what.startsWith("reader_stud") || what == "mask_versions" || what == "reconnected"))
      review->refreshSoon();
    if (auto* b = wsp->browser; b && (what == "mask_versions" || what == "series"))
      b->refresh();
    if (auto* jobs = wsp->jobs; jobs && what == "jobs")
      jobs->refresh();
    if (what == "reconnected")
    {
      if (auto* panel = wsp->readerPanel)
        panel->refresh();
      if (auto* b = wsp->browser)
        b->refresh();
    }
  });
  QObject::connect(listener, &db::ChangeListener::listeningChanged, &w, [&w, summary](bool on) {
    summary->setStyleSheet(on ? QString() : QString("color: #b00020;"));
    if (!on)
      w.statusBar()->showMessage(QObject::tr("The database server is not reachable; your unsaved edits stay in "
                                             "the recovery file. Reconnecting..."),
                                 10000);
  });
}
} // namespace panseg::ui
