// The department-mode dialogs driven as a user would, under Xvfb, against a real PostgreSQL
// server (tests/PgTestServer.h): sign-in (wrong password, then right), the users-and-roles
// dialog of an admin (add an account, change a role), and changing one's own password.
#include "../PgTestServer.h"
#include "database/StudyDatabase.h"
#include "database/server/ServerAdmin.h"
#include "core/demo/PhantomGenerator.h"
#include "core/io/ImageIO.h"
#include "database/ContentHash.h"
#include "ui/AccountDialogs.h"
#include "ui/StudyBrowser.h"
#include "ui/MainWindow.h"
#include "ui/ReviewPanel.h"
#include "database/studies/ReaderStudy.h"
#include "database/server/ChangeListener.h"
#include "ui/ServerSession.h"
#include "ui/Workstation.h"

#include <QApplication>
#include <QMenu>
#include <QStatusBar>
#include <QTimer>

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QTemporaryDir>
#include <QTableWidget>
#include <QInputDialog>
#include <QtTest>

#include <algorithm>

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
    // Sam's account expires: the row's button asks for the date (typed into the real input dialog).
    int samRow = -1;
    for (int i = 0; i < dialog.table()->rowCount(); ++i)
      if (dialog.table()->item(i, 0)->text() == "sam")
        samRow = i;
    QVERIFY(samRow >= 0);
    auto* expire = qobject_cast<QPushButton*>(dialog.table()->cellWidget(samRow, 4));
    QVERIFY(expire && expire->text().startsWith("never"));
    bool answered = false;
    QTimer::singleShot(200, this, [&] {
      auto* input = qobject_cast<QInputDialog*>(QApplication::activeModalWidget());
      if (!input)
        return;
      input->setTextValue("2021-03-04");
      input->accept();
      answered = true;
    });
    QTest::mouseClick(expire, Qt::LeftButton);
    QVERIFY(answered);
    QTRY_VERIFY2(dialog.statusLabel()->text().contains("sam signs in until 2021-03-04"),
                 qPrintable(dialog.statusLabel()->text()));
    QTRY_VERIFY(qobject_cast<QPushButton*>(dialog.table()->cellWidget(samRow, 4))->text().startsWith("EXPIRED 2021-03-04"));
    dialog.grab().save(QDir::temp().filePath("panseg-users-expiry.png"));
    try
    {
      StudyDatabase x(uri("sam"), pw("sam-password"));
      QFAIL("an expired account signed in");
    }
    catch (const std::exception& e)
    {
      QVERIFY2(QString(e.what()).contains("the account has expired"), e.what());
    }
    dialog.setExpiry(samRow, "never");
    QTRY_VERIFY(qobject_cast<QPushButton*>(dialog.table()->cellWidget(samRow, 4))->text().startsWith("never"));
    QCOMPARE(StudyDatabase(uri("sam"), pw("sam-password")).currentUser().username, std::string("sam"));
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

  void concurrentSaveIsToldAboutTheOtherVersion()
  {
    // Two coordinators edit the same version at their workstations; uma saves first. tess's
    // save keeps both versions and her browser tells her about uma's.
    StudyDatabase owner(uri("guiowner"), pw("guiowner-password"));
    serverAddUser(owner, "tess", Role::Coordinator, "tess-password");
    serverAddUser(owner, "uma", Role::Coordinator, "uma-password");
    demo::PhantomOptions po;
    po.size = { 32, 28, 16 };
    po.spacingMm = { 8.0, 8.0, 10.0 };
    po.threads = 2;
    const demo::Phantom ph = demo::generatePhantom(po);
    const std::string path = (m_config.path() + "/ct.nii.gz").toStdString();
    writeImage(ph.ct, path);
    const Image stored = readImage(path);
    StudyDatabase::NewSeries ns;
    ns.patientKey = ns.studyKey = "name:concurrent";
    ns.modality = Modality::CT;
    ns.geometry = stored.geometry;
    ns.format = "NIfTI";
    ns.sourcePath = path;
    ns.contentHash = imageContentHash(stored);
    const int64_t series = owner.addSeries(ns).id;
    MaskProvenance p;
    const int64_t base = owner.saveMaskVersion(series, ph.pancreas, p);

    StudyDatabase::setDefaultPasswordPrompt([](const std::string&) { return std::string("tess-password"); });
    ui::StudyBrowser browser;
    QString error;
    QVERIFY2(browser.openDatabase(QString::fromStdString(uri("tess")), &error), qPrintable(error));
    StudyDatabase uma(uri("uma"), pw("uma-password"));
    p.parentId = base;
    LabelMask hers = ph.pancreas;
    hers.voxels[0] = 1;
    const int64_t umas = uma.saveMaskVersion(series, hers, p);
    LabelMask mine = ph.pancreas;
    mine.voxels[1] = 1;
    const int64_t tess = browser.saveMaskVersion(series, mine, base);
    QVERIFY(tess > umas);
    QString shown;
    for (QLabel* l : browser.findChildren<QLabel*>())
      if (l->text().contains("Saved mask version"))
        shown = l->text();
    QVERIFY2(shown.contains(QString("uma saved version %1").arg(umas)) && shown.contains("both versions are kept"),
             qPrintable(shown));
    QCOMPARE(owner.masksOf(series).size(), size_t(3));
    StudyDatabase::setDefaultPasswordPrompt({});
  }

  void reviewQueueFollowsAnotherWorkstation()
  {
    // Coordinator vera's Review dock; reader walt submits a read at his own workstation (another
    // connection): the queue grows from the server's notification, without Refresh.
    StudyDatabase owner(uri("guiowner"), pw("guiowner-password"));
    serverAddUser(owner, "vera", Role::Coordinator, "vera-password");
    serverAddUser(owner, "walt", Role::Reader, "walt-password");
    demo::PhantomOptions po;
    po.size = { 32, 28, 16 };
    po.spacingMm = { 8.0, 8.0, 10.0 };
    po.threads = 2;
    po.seed = 5;
    const demo::Phantom ph = demo::generatePhantom(po);
    const std::string path = (m_config.path() + "/live.nii.gz").toStdString();
    writeImage(ph.ct, path);
    const Image stored = readImage(path);
    StudyDatabase::NewSeries ns;
    ns.patientKey = ns.studyKey = "name:live";
    ns.modality = Modality::CT;
    ns.geometry = stored.geometry;
    ns.format = "NIfTI";
    ns.sourcePath = path;
    ns.contentHash = imageContentHash(stored);
    const int64_t series = owner.addSeries(ns).id;
    StudyDatabase vera(uri("vera"), pw("vera-password"));
    NewReaderStudy s;
    s.name = "live queue";
    s.design = StudyDesign::IntraObserver;
    s.readers = { "walt" };
    s.seriesIds = { series };
    const int64_t study = ReaderStudy(vera).createStudy(s);

    qputenv("PANSEG_DB_DIR", QString("postgresql://vera@127.0.0.1:%1/%2").arg(m_pg.port()).arg(m_db).toUtf8());
    qputenv("PGPASSWORD", "vera-password");
    {
      ui::MainWindow w;
      w.resize(1200, 800);
      ui::Workstation* ws = ui::attachWorkstation(w);
      ui::attachServerSession(*ws);
      w.show();
      QVERIFY(QTest::qWaitForWindowExposed(&w));
      auto* review = w.findChild<ui::ReviewPanel*>();
      QVERIFY(review);
      auto* listener = w.findChild<ChangeListener*>();
      QVERIFY(listener);
      QTRY_VERIFY(listener->listening());
      const size_t before = review->queue().size();
      {
        StudyDatabase walt(uri("walt"), pw("walt-password"));
        ReaderStudy rs(walt);
        const Worklist wl = rs.worklist(study);
        QVERIFY(wl.next);
        rs.startRead(wl.next->id);
        rs.submitRead(wl.next->id, ph.pancreas);
      }
      QTRY_COMPARE_WITH_TIMEOUT(review->queue().size(), before + 1, 2000);
      QVERIFY(std::any_of(review->queue().begin(), review->queue().end(),
                          [](const ReviewItem& i) { return i.readerName == "walt"; }));
    }
    qunsetenv("PANSEG_DB_DIR");
    qunsetenv("PGPASSWORD");
  }

  void workstationSignsInAndSaysWho()
  {
    // The workstation started on a server: the sign-in dialog comes first, then the window says
    // who is signed in and offers the account actions a clinician may use.
    qputenv("PANSEG_DB_DIR", QString("postgresql://127.0.0.1:%1/%2").arg(m_pg.port()).arg(m_db).toUtf8());
    QTimer::singleShot(300, [] {
      auto* d = qobject_cast<ui::SignInDialog*>(QApplication::activeModalWidget());
      QVERIFY(d);
      d->userEdit()->setText("rita");
      d->passwordEdit()->setText("rita-new-password");
      QTest::mouseClick(d->signInButton(), Qt::LeftButton);
    });
    QVERIFY(ui::signInIfServer());
    QVERIFY(qgetenv("PANSEG_DB_DIR").contains("rita@"));
    ui::MainWindow w;
    w.resize(1200, 800);
    ui::Workstation* ws = ui::attachWorkstation(w);
    ui::attachServerSession(*ws);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto* label = w.findChild<QLabel*>("sessionLabel");
    QVERIFY(label);
    QVERIFY2(label->text().contains("signed in as rita (clinician)"), qPrintable(label->text()));
    QVERIFY(w.findChild<QAction*>("signOutAction"));
    QVERIFY(w.findChild<QAction*>("changePasswordAction")->isEnabled());
    QVERIFY(!w.findChild<QAction*>("usersAction")->isEnabled()); // not an admin
    QTest::qWait(300);
    w.grab().save(QDir::temp().filePath("panseg-main-server.png"));
    qunsetenv("PANSEG_DB_DIR");
    qunsetenv("PGPASSWORD");
  }
};

QTEST_MAIN(TstServerGui)
#include "tst_server_gui.moc"
