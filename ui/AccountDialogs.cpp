#include "ui/AccountDialogs.h"
#include "database/QtText.h"

#include "core/Error.h"
#include "database/server/ServerAdmin.h"
#include "database/server/SignIn.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QTableWidget>
#include <QVBoxLayout>

#include <map>

namespace panseg::ui
{
namespace
{
QSettings profileSettings() { return QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Servers")); }

QLabel* errorLine(QWidget* parent)
{
  auto* l = new QLabel(parent);
  l->setWordWrap(true);
  l->setStyleSheet("color: #b00020;");
  l->setObjectName("errorLabel");
  return l;
}
} // namespace

// ---- sign in ---------------------------------------------------------------------------------
SignInDialog::SignInDialog(const QString& serverUri, QWidget* parent) : QDialog(parent)
{
  setWindowTitle(tr("Sign in to the department server"));
  setMinimumWidth(560);
  m_server = new QComboBox(this);
  m_server->setEditable(true);
  m_server->setObjectName("server");
  QSettings s = profileSettings();
  const QStringList profiles = s.value("profiles").toStringList();
  m_server->addItems(profiles);
  if (!serverUri.isEmpty())
    m_server->setCurrentText(serverUri);
  m_server->setToolTip(tr("postgresql://host[:port]/database"));
  m_user = new QLineEdit(s.value("lastUser").toString(), this);
  m_user->setObjectName("user");
  m_password = new QLineEdit(this);
  m_password->setObjectName("password");
  m_password->setEchoMode(QLineEdit::Password);
  m_verify = new QCheckBox(tr("Verify the server's certificate (TLS, sslmode=verify-full)"), this);
  m_verify->setChecked(s.value("verifyFull").toBool());
  m_caFile = new QLineEdit(s.value("caFile").toString(), this);
  m_caFile->setPlaceholderText(tr("root certificate (default ~/.postgresql/root.crt)"));
  m_error = errorLine(this);
  auto* note = new QLabel(tr("PostgreSQL checks your password; PanSeg does not store it."), this);
  note->setWordWrap(true);

  auto* form = new QFormLayout;
  form->addRow(tr("Server:"), m_server);
  form->addRow(tr("User:"), m_user);
  form->addRow(tr("Password:"), m_password);
  form->addRow(QString(), m_verify);
  form->addRow(tr("CA certificate:"), m_caFile);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Cancel, this);
  m_signIn = buttons->addButton(tr("Sign In"), QDialogButtonBox::AcceptRole);
  m_signIn->setDefault(true);
  connect(m_signIn, &QPushButton::clicked, this, &SignInDialog::trySignIn);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(note);
  layout->addWidget(m_error);
  layout->addWidget(buttons);
  if (!m_user->text().isEmpty())
    m_password->setFocus();
}

SignInDialog::~SignInDialog() = default;

void SignInDialog::trySignIn()
{
  m_error->clear();
  db::SignInRequest r;
  r.serverUri = m_server->currentText().trimmed().toStdString();
  r.user = m_user->text().trimmed().toStdString();
  r.password = m_password->text().toStdString();
  r.verifyFull = m_verify->isChecked();
  r.caFile = m_caFile->text().trimmed().toStdString();
  try
  {
    m_location = qs(db::signInLocation(r));
    m_db = db::signIn(r);
  }
  catch (const std::exception& e)
  {
    m_error->setText(QString::fromUtf8(e.what()));
    m_password->selectAll();
    adjustSize(); // room for the wrapped message
    return;
  }
  QSettings s = profileSettings();
  QStringList profiles = s.value("profiles").toStringList();
  profiles.removeAll(m_server->currentText().trimmed());
  profiles.prepend(m_server->currentText().trimmed());
  s.setValue("profiles", profiles.mid(0, 10));
  s.setValue("lastUser", m_user->text().trimmed());
  s.setValue("verifyFull", m_verify->isChecked());
  s.setValue("caFile", m_caFile->text().trimmed());
  accept();
}

std::unique_ptr<db::StudyDatabase> SignInDialog::takeDatabase() { return std::move(m_db); }
QString SignInDialog::password() const { return m_password->text(); }

// ---- change password -------------------------------------------------------------------------
ChangePasswordDialog::ChangePasswordDialog(db::StudyDatabase& db, QWidget* parent) : QDialog(parent), m_db(db)
{
  setWindowTitle(tr("Change My Password"));
  m_new = new QLineEdit(this);
  m_new->setEchoMode(QLineEdit::Password);
  m_repeat = new QLineEdit(this);
  m_repeat->setEchoMode(QLineEdit::Password);
  m_error = errorLine(this);
  auto* form = new QFormLayout;
  form->addRow(tr("Signed in as:"), new QLabel(qs(db.currentUser().username), this));
  form->addRow(tr("New password:"), m_new);
  form->addRow(tr("Repeat:"), m_repeat);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  connect(buttons, &QDialogButtonBox::accepted, this, &ChangePasswordDialog::apply);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(m_error);
  layout->addWidget(buttons);
}

void ChangePasswordDialog::apply()
{
  if (m_new->text() != m_repeat->text())
  {
    m_error->setText(tr("The two passwords differ."));
    return;
  }
  try
  {
    db::serverChangeOwnPassword(m_db, m_new->text().toStdString());
  }
  catch (const std::exception& e)
  {
    m_error->setText(QString::fromUtf8(e.what()));
    return;
  }
  accept();
}

// ---- users -------------------------------------------------------------------------------------
UsersDialog::UsersDialog(db::StudyDatabase& db, QWidget* parent) : QDialog(parent), m_db(db)
{
  setWindowTitle(db.isServer() ? tr("Accounts on %1").arg(qs(db.databasePath())) : tr("Users of the local database"));
  resize(820, 420);
  m_table = new QTableWidget(0, 5, this);
  m_table->setHorizontalHeaderLabels({ tr("User"), tr("Name"), tr("Role"), tr("Account"), tr("Expires (UTC)") });
  m_table->horizontalHeader()->setStretchLastSection(true);
  m_table->verticalHeader()->hide();
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_name = new QLineEdit(this);
  m_name->setPlaceholderText(tr("user name"));
  m_role = new QComboBox(this);
  for (const char* r : { "reader", "coordinator", "clinician", "admin" })
    m_role->addItem(r);
  m_password = new QLineEdit(this);
  m_password->setEchoMode(QLineEdit::Password);
  m_password->setPlaceholderText(tr("initial password"));
  m_password->setVisible(db.isServer());
  m_add = new QPushButton(tr("Add User"), this);
  connect(m_add, &QPushButton::clicked, this, &UsersDialog::addUser);
  m_status = new QLabel(this);
  m_status->setWordWrap(true);
  auto* row = new QHBoxLayout;
  row->addWidget(m_name);
  row->addWidget(m_role);
  row->addWidget(m_password);
  row->addWidget(m_add);
  auto* note = new QLabel(db.isServer() ? tr("Accounts are PostgreSQL login roles; the server checks passwords.")
                                        : tr("Local database: user names are labels, not verified identities. "
                                             "Use a department server for studies that need real sign-in."),
                          this);
  note->setWordWrap(true);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(note);
  layout->addWidget(m_table);
  layout->addLayout(row);
  layout->addWidget(m_status);
  layout->addWidget(buttons);
  reload();
}

void UsersDialog::reload()
{
  const std::vector<db::User> users = m_db.users();
  std::map<std::string, db::AccountExpiry> expiries;
  if (m_db.isServer())
  {
    try
    {
      expiries = db::serverAccountExpiries(m_db);
    }
    catch (const std::exception& e)
    {
      m_status->setText(QString::fromUtf8(e.what()));
    }
  }
  m_table->clearContents(); // also deletes the previous rows' combo boxes and buttons
  m_table->setRowCount(0);
  m_table->setRowCount(int(users.size()));
  for (int i = 0; i < int(users.size()); ++i)
  {
    const db::User& u = users[size_t(i)];
    m_table->setItem(i, 0, new QTableWidgetItem(qs(u.username)));
    m_table->setItem(i, 1, new QTableWidgetItem(qs(u.displayName)));
    auto* role = new QComboBox(m_table);
    for (const char* r : { "admin", "coordinator", "reader", "clinician" })
      role->addItem(r);
    role->setCurrentText(qs(db::to_string(u.role)));
    connect(role, &QComboBox::currentTextChanged, this, [this, i] { applyRole(i); });
    m_table->setCellWidget(i, 2, role);
    auto* account = new QPushButton(u.active ? tr("Active — Disable") : tr("Disabled — Enable"), m_table);
    account->setEnabled(m_db.isServer());
    connect(account, &QPushButton::clicked, this, [this, i] { toggleActive(i); });
    m_table->setCellWidget(i, 3, account);
    const auto e = expiries.find(u.username);
    const QString expiry = e == expiries.end() ? tr("never")
                           : e->second.expired ? tr("EXPIRED %1").arg(qs(e->second.untilUtc))
                                               : qs(e->second.untilUtc);
    auto* expire = new QPushButton(expiry + tr(" — Change…"), m_table);
    expire->setEnabled(m_db.isServer());
    connect(expire, &QPushButton::clicked, this, [this, i, e = e == expiries.end() ? QString() : qs(e->second.untilUtc)] {
      bool ok = false;
      const QString until = QInputDialog::getText(this, tr("Account expiry"),
                                                  tr("Signs in until (UTC, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS), or never:"),
                                                  QLineEdit::Normal, e.isEmpty() ? QStringLiteral("never") : e.left(10), &ok);
      if (ok)
        setExpiry(i, until.trimmed());
    });
    m_table->setCellWidget(i, 4, expire);
  }
  m_table->resizeColumnsToContents();
}

void UsersDialog::addUser()
{
  const std::string name = m_name->text().trimmed().toStdString();
  const db::Role role = db::parseRole(m_role->currentText().toStdString()).value_or(db::Role::Reader);
  try
  {
    if (m_db.isServer())
      db::serverAddUser(m_db, name, role, m_password->text().toStdString());
    else
    {
      if (m_db.currentUser().role != db::Role::Admin)
        throw Error("only an admin adds users");
      m_db.addUser(name, role);
    }
    m_status->setText(tr("Added %1 (%2).").arg(qs(name), m_role->currentText()));
    m_name->clear();
    m_password->clear();
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromUtf8(e.what()));
  }
  reload();
}

void UsersDialog::applyRole(int row)
{
  const std::string name = m_table->item(row, 0)->text().toStdString();
  auto* box = qobject_cast<QComboBox*>(m_table->cellWidget(row, 2));
  const db::Role role = db::parseRole(box->currentText().toStdString()).value_or(db::Role::Reader);
  try
  {
    if (m_db.isServer())
      db::serverSetUserRole(m_db, name, role);
    else
    {
      if (m_db.currentUser().role != db::Role::Admin)
        throw Error("only an admin changes roles");
      m_db.setUserRole(m_db.userByName(name)->id, role);
    }
    m_status->setText(tr("%1 is now %2.").arg(qs(name), box->currentText()));
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromUtf8(e.what()));
  }
  QMetaObject::invokeMethod(this, [this] { reload(); }, Qt::QueuedConnection);
}

void UsersDialog::toggleActive(int row)
{
  const std::string name = m_table->item(row, 0)->text().toStdString();
  try
  {
    const auto u = m_db.userByName(name);
    db::serverSetUserActive(m_db, name, !(u && u->active));
    m_status->setText(tr("%1 %2.").arg(qs(name), u && u->active ? tr("disabled") : tr("enabled")));
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromUtf8(e.what()));
  }
  QMetaObject::invokeMethod(this, [this] { reload(); }, Qt::QueuedConnection);
}
void UsersDialog::setExpiry(int row, const QString& untilUtc)
{
  const std::string name = m_table->item(row, 0)->text().toStdString();
  try
  {
    db::serverSetUserExpiry(m_db, name, untilUtc.toStdString());
    m_status->setText(untilUtc.isEmpty() || untilUtc == "never" ? tr("%1 never expires.").arg(qs(name))
                                                                  : tr("%1 signs in until %2 (UTC).").arg(qs(name), untilUtc));
  }
  catch (const std::exception& e)
  {
    m_status->setText(QString::fromUtf8(e.what()));
  }
  QMetaObject::invokeMethod(this, [this] { reload(); }, Qt::QueuedConnection);
}
} // namespace panseg::ui
