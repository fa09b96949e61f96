#pragma once
// Department mode in the GUI: signing in to a PostgreSQL server, changing one's own password,
// and (admins) managing accounts. The dialogs collect input and show results; signing in, the
// URI and the account rules are database/server/SignIn.h and ServerAdmin.h.
#include "database/StudyDatabase.h"

#include <QDialog>

#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace panseg::ui
{
/// Server profile (URI, editable, remembered without passwords), user, password, TLS. Accept
/// only after a successful sign-in; a failure is shown in the dialog and it stays open.
class SignInDialog : public QDialog
{
  Q_OBJECT
public:
  explicit SignInDialog(const QString& serverUri = {}, QWidget* parent = nullptr);
  ~SignInDialog() override;
  /// After accept(): the signed-in database, the location (URI with user, no password) and the
  /// password for the session's other connections.
  std::unique_ptr<db::StudyDatabase> takeDatabase();
  QString location() const { return m_location; }
  QString password() const;

  QComboBox* serverBox() const { return m_server; }
  QLineEdit* userEdit() const { return m_user; }
  QLineEdit* passwordEdit() const { return m_password; }
  QCheckBox* verifyBox() const { return m_verify; }
  QLabel* errorLabel() const { return m_error; }
  QPushButton* signInButton() const { return m_signIn; }

private:
  void trySignIn();
  QComboBox* m_server = nullptr;
  QLineEdit* m_user = nullptr;
  QLineEdit* m_password = nullptr;
  QCheckBox* m_verify = nullptr;
  QLineEdit* m_caFile = nullptr;
  QLabel* m_error = nullptr;
  QPushButton* m_signIn = nullptr;
  std::unique_ptr<db::StudyDatabase> m_db;
  QString m_location;
};

/// The signed-in user's new password, twice.
class ChangePasswordDialog : public QDialog
{
  Q_OBJECT
public:
  explicit ChangePasswordDialog(db::StudyDatabase& db, QWidget* parent = nullptr);
  QLineEdit* newEdit() const { return m_new; }
  QLineEdit* repeatEdit() const { return m_repeat; }
  QLabel* errorLabel() const { return m_error; }

private:
  void apply();
  db::StudyDatabase& m_db;
  QLineEdit* m_new = nullptr;
  QLineEdit* m_repeat = nullptr;
  QLabel* m_error = nullptr;
};

/// Admins: the users with role and state; add a user, change a role, disable or enable. In
/// server mode the accounts are PostgreSQL login roles (ServerAdmin.h); in local mode the
/// names are labels (StudyDatabase::addUser / setUserRole).
class UsersDialog : public QDialog
{
  Q_OBJECT
public:
  explicit UsersDialog(db::StudyDatabase& db, QWidget* parent = nullptr);
  QTableWidget* table() const { return m_table; }
  QLineEdit* nameEdit() const { return m_name; }
  QComboBox* roleBox() const { return m_role; }
  QLineEdit* passwordEdit() const { return m_password; }
  QPushButton* addButton() const { return m_add; }
  QLabel* statusLabel() const { return m_status; }
  /// Applies the role chosen in row `row`'s combo box, or toggles its account.
  void applyRole(int row);
  void toggleActive(int row);
  /// Server: the account in row `row` stops signing in after `untilUtc` (YYYY-MM-DD[THH:MM:SS],
  /// UTC) or never ("never" or empty). Its button asks for the date.
  void setExpiry(int row, const QString& untilUtc);

private:
  void reload();
  void addUser();
  db::StudyDatabase& m_db;
  QTableWidget* m_table = nullptr;
  QLineEdit* m_name = nullptr;
  QComboBox* m_role = nullptr;
  QLineEdit* m_password = nullptr;
  QPushButton* m_add = nullptr;
  QLabel* m_status = nullptr;
};
} // namespace panseg::ui
