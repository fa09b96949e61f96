// The department-mode dialogs driven as a user would, under Xvfb, against a real PostgreSQL
// server (tests/PgTestServer.h): sign-in (wrong password, then right), the users-and-roles
// dialog of an admin (add an account, change a role), and changing one's own password.
#include "../PgTestServer.h"
#include "database/StudyDatabase.h"
#include "database/server/ServerAdmin.h"
#include "ui/AccountDialogs.h"

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QTemporaryDir>
#include <QTableWidget>
#include <QtTest>

using namespace panseg;
using namespace panseg::db;

class TstServerGui : public QObject
{
  Q_OBJECT
  test::PgTestServer m_pg;
  QString m_db = "panseg_gui";
  QTemporaryDir m_config;

  std::string uri(const QString& user) const { return m_pg.uri(user, m_db).toStdString(); }
  StudyDatabase::OpenOptions pw(const std::string& password) const
  {
    StudyDatabase::OpenOptions o;
    o.password = password;
    return o;
  }

private slots:
  void initTestCase()
  {
    QVERIFY(m_config.isValid());
    qputenv("XDG_CONFIG_HOME", m_config.path().toUtf8()); // profiles go to a scratch folder
    QSettings(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Servers")).clear();
    if (test::PgTestServer::binDir().isEmpty())
      QSKIP("PostgreSQL is not installed (installer/setup.sh installs the Debian package 'postgresql')");
    QString why;
    QVERIFY2(m_pg.start(&why), qPrintable(why));
    QVERIFY2(m_pg.createDatabase(m_db, "guiowner", "guiowner-password", &why), qPrintable(why));
    initServer(uri("guiowner"), pw("guiowner-password"));
    StudyDatabase owner(uri("guiowner"), pw("guiowner-password"));
    serverAddUser(owner, "rita", Role::Reader, "rita-password");
  }

  void signInDialog()
  {
    const QString server = QString("postgresql://127.0.0.1:%1/%2").arg(m_pg.port()).arg(m_db);
    ui::SignInDialog dialog(server);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    dialog.userEdit()->clear();
    QTest::keyClicks(dialog.userEdit(), "rita");
    QTest::keyClicks(dialog.passwordEdit(), "not-the-password");
    QTest::mouseClick(dialog.signInButton(), Qt::LeftButton);
    QVERIFY(dialog.isVisible());
    QVERIFY2(dialog.errorLabel()->text().contains("wrong user name or password"),
             qPrintable(dialog.errorLabel()->text()));
    QVERIFY(!dialog.grab().isNull());
    dialog.grab().save(QDir::temp().filePath("panseg-signin-error.png"));
    dialog.passwordEdit()->clear();
    QTest::keyClicks(dialog.passwordEdit(), "rita-password");
    QTest::mouseClick(dialog.signInButton(), Qt::LeftButton);
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QVERIFY(dialog.location().contains("rita@127.0.0.1"));
    QVERIFY(!dialog.location().contains("rita-password"));
    auto db = dialog.takeDatabase();
    QVERIFY(db);
    QCOMPARE(db->currentUser().username, std::string("rita"));
    // The profile is remembered, the password is not.
    QSettings s(QStringLiteral("PanSeg"), QStringLiteral("PanSeg Servers"));
    QVERIFY(s.value("profiles").toStringList().contains(server));
    for (const QString& key : s.allKeys())
      QVERIFY(!s.value(key).toString().contains("rita-password"));
    // TLS asked for and the server has none: its own message, the dialog stays.
    ui::SignInDialog tls(server);
    tls.show();
    tls.verifyBox()->setChecked(true);
    QTest::keyClicks(tls.passwordEdit(), "rita-password");
    QTest::mouseClick(tls.signInButton(), Qt::LeftButton);
    QVERIFY(tls.isVisible());
    QVERIFY2(!tls.errorLabel()->text().isEmpty(), "a TLS failure is shown");
  }

  void usersDialogAsAdmin()
  {
    StudyDatabase owner(uri("guiowner"), pw("guiowner-password"));
    ui::UsersDialog dialog(owner);
    dialog.show();
    QVERIFY(QTest::qWaitForWindowExposed(&dialog));
    const int before = dialog.table()->rowCount();
    QTest::keyClicks(dialog.nameEdit(), "sam");
    dialog.roleBox()->setCurrentText("coordinator");
    QTest::keyClicks(dialog.passwordEdit(), "sam-password");
    QTest::mouseClick(dialog.addButton(), Qt::LeftButton);
    QVERIFY2(dialog.statusLabel()->text().contains("Added sam"), qPrintable(dialog.statusLabel()->text()));
    QCOMPARE(dialog.table()->rowCount(), before + 1);
    dialog.grab().save(QDir::temp().filePath("panseg-users.png"));
    QCOMPARE(StudyDatabase(uri("sam"), pw("sam-password")).currentUser().role, Role::Coordinator);
    // Change rita's role through her row's combo box.
    int row = -1;
    for (int i = 0; i < dialog.table()->rowCount(); ++i)
      if (dialog.table()->item(i, 0)->text() == "rita")
        row = i;
    QVERIFY(row >= 0);
    qobject_cast<QComboBox*>(dialog.table()->cellWidget(row, 2))->setCurrentText("clinician");
    QTRY_VERIFY(dialog.statusLabel()->text().contains("rita is now clinician"));
    QCOMPARE(StudyDatabase(uri("rita"), pw("rita-password")).currentUser().role, Role::Clinician);
    // A reader's dialog refuses with the server's reason.
    StudyDatabase rita(uri("rita"), pw("rita-password"));
    ui::UsersDialog hers(rita);
    QTest::keyClicks(hers.nameEdit(), "tom");
    QTest::keyClicks(hers.passwordEdit(), "tom-password");
    QTest::mouseClick(hers.addButton(), Qt::LeftButton);
    QVERIFY2(hers.statusLabel()->text().contains("only a PanSeg admin"), qPrintable(hers.statusLabel()->text()));
  }

  void changePasswordDialog()
  {
    StudyDatabase rita(uri("rita"), pw("rita-password"));
    ui::ChangePasswordDialog dialog(rita);
    dialog.show();
    QTest::keyClicks(dialog.newEdit(), "rita-new-password");
    QTest::keyClicks(dialog.repeatEdit(), "rita-typo-password");
    QTest::keyClick(dialog.repeatEdit(), Qt::Key_Return);
    QVERIFY(dialog.errorLabel()->text().contains("differ"));
    dialog.repeatEdit()->clear();
    QTest::keyClicks(dialog.repeatEdit(), "rita-new-password");
    QTest::keyClick(dialog.repeatEdit(), Qt::Key_Return);
    QCOMPARE(dialog.result(), int(QDialog::Accepted));
    QCOMPARE(StudyDatabase(uri("rita"), pw("rita-new-password")).currentUser().username, std::string("rita"));
  }
};

QTEST_MAIN(TstServerGui)
#include "tst_server_gui.moc"
