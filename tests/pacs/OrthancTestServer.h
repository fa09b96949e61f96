#pragma once
// A real Orthanc PACS for tests (like tests/PgTestServer.h for PostgreSQL): a temporary
// orthanc.json (storage in a temporary folder, free loopback HTTP and DICOM ports, HTTP basic
// authentication on, its own AE title checked on every association, the test's AE registered
// as a modality, the DICOMweb plugin), /usr/sbin/Orthanc started on it, waited for until it
// answers, stopped at the end. Tests QSKIP with available()'s reason when Orthanc is absent.
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <csignal>
#include <sys/prctl.h>

namespace panseg::test
{
class OrthancTestServer
{
public:
  static constexpr const char* kUser = "alice";
  static constexpr const char* kPassword = "wonder-land-7";
  static constexpr const char* kAet = "ORTHANCTEST";
  static constexpr const char* kOurAet = "PANSEGTEST";
  static constexpr const char* kExe = "/usr/sbin/Orthanc";
  static constexpr const char* kDicomWebPlugin = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so";

  /// Empty when Orthanc and its DICOMweb plugin are installed, else why not.
  static QString unavailableReason()
  {
    if (!QFileInfo(kExe).isExecutable())
      return QString("Orthanc is not installed (%1); installer/setup.sh installs orthanc orthanc-dicomweb").arg(kExe);
    if (!QFileInfo::exists(kDicomWebPlugin))
      return QString("the Orthanc DICOMweb plugin is not installed (%1); installer/setup.sh installs orthanc-dicomweb")
        .arg(kDicomWebPlugin);
    return {};
  }

  ~OrthancTestServer() { stop(); }

  /// Starts Orthanc; false with `error` set when it cannot.
  bool start(QString* error, int ourStoragePort = 0)
  {
    const QString why = unavailableReason();
    if (!why.isEmpty())
      return fail(error, why);
    if (!m_tmp.isValid())
      return fail(error, "no temporary folder");
    m_httpPort = freePort();
    m_dicomPort = freePort();
    while (m_dicomPort == m_httpPort)
      m_dicomPort = freePort();
    QDir().mkpath(m_tmp.path() + "/storage");
    const QJsonObject config{
      { "Name", "PanSegTestPacs" },
      { "StorageDirectory", m_tmp.path() + "/storage" },
      { "IndexDirectory", m_tmp.path() + "/storage" },
      { "HttpPort", m_httpPort },
      { "DicomPort", m_dicomPort },
      { "DicomAet", kAet },
      { "DicomCheckCalledAet", true },
      { "RemoteAccessAllowed", false },
      { "AuthenticationEnabled", true },
      { "RegisteredUsers", QJsonObject{ { kUser, kPassword } } },
      { "DicomModalities", QJsonObject{ { "panseg", QJsonArray{ kOurAet, "127.0.0.1", ourStoragePort > 0 ? ourStoragePort : 11112 } } } },
      { "Plugins", QJsonArray{ kDicomWebPlugin } },
      { "DicomWeb", QJsonObject{ { "Enable", true }, { "Root", "/dicom-web/" } } },
      { "StorageCompression", false },
      { "HttpCompressionEnabled", false },
      { "ConcurrentJobs", 1 },
    };
    const QString configPath = m_tmp.path() + "/orthanc.json";
    {
      QFile f(configPath);
      if (!f.open(QIODevice::WriteOnly))
        return fail(error, "cannot write " + configPath);
      f.write(QJsonDocument(config).toJson());
    }
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    m_process.setStandardOutputFile(m_tmp.path() + "/orthanc.log");
    m_process.setWorkingDirectory(m_tmp.path());
    // A test that crashes must not leave its Orthanc running: it gets SIGTERM when we die.
    m_process.setChildProcessModifier([]() { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
    m_process.start(kExe, { configPath });
    if (!m_process.waitForStarted(10000))
      return fail(error, "cannot start Orthanc: " + m_process.errorString());
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 30000)
    {
      if (m_process.state() != QProcess::Running)
        return fail(error, "Orthanc exited at start: " + log());
      int status = 0;
      get("/system", &status);
      if (status == 200)
        return true;
      QThread::msleep(100);
    }
    return fail(error, "Orthanc did not answer within 30 s: " + log());
  }

  void stop()
  {
    if (m_process.state() == QProcess::Running)
    {
      m_process.terminate();
      if (!m_process.waitForFinished(15000))
      {
        m_process.kill();
        m_process.waitForFinished(5000);
      }
    }
  }

  int httpPort() const { return m_httpPort; }
  int dicomPort() const { return m_dicomPort; }
  QString dicomWebUrl() const { return QString("http://127.0.0.1:%1/dicom-web").arg(m_httpPort); }
  QString restUrl() const { return QString("http://127.0.0.1:%1").arg(m_httpPort); }
  QString log() const
  {
    QFile f(m_tmp.path() + "/orthanc.log");
    f.open(QIODevice::ReadOnly);
    return QString::fromUtf8(f.readAll().right(3000));
  }
  /// A file holding the password (for profiles' secret files).
  QString passwordFile(const QString& password = kPassword) const
  {
    const QString path = m_tmp.path() + "/secret-" + QString::number(qHash(password));
    QFile f(path);
    f.open(QIODevice::WriteOnly);
    f.write(password.toUtf8() + "\n");
    return path;
  }

  /// Uploads DICOM files through Orthanc's own REST API (POST /instances), independent of PanSeg's
  /// clients. False with `error` on the first refusal.
  bool upload(const QStringList& files, QString* error)
  {
    for (const QString& path : files)
    {
      QFile f(path);
      if (!f.open(QIODevice::ReadOnly))
        return fail(error, "cannot read " + path);
      int status = 0;
      const QByteArray answer = request("POST", "/instances", f.readAll(), &status);
      if (status != 200)
        return fail(error, QString("Orthanc refused %1 (HTTP %2): %3").arg(path).arg(status).arg(QString::fromUtf8(answer)));
    }
    return true;
  }

  /// GET on the REST API (basic auth); the HTTP status in `status`.
  QByteArray get(const QString& path, int* status) { return request("GET", path, {}, status); }

  QByteArray request(const QByteArray& method, const QString& path, const QByteArray& body, int* status)
  {
    QNetworkAccessManager nam;
    QNetworkRequest req(QUrl(restUrl() + path));
    req.setRawHeader("Authorization", "Basic " + QByteArray(QByteArray(kUser) + ":" + kPassword).toBase64());
    req.setTransferTimeout(10000);
    if (!body.isEmpty())
      req.setHeader(QNetworkRequest::ContentTypeHeader, "application/dicom");
    QNetworkReply* reply = body.isEmpty() ? nam.sendCustomRequest(req, method) : nam.sendCustomRequest(req, method, body);
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    if (!reply->isFinished())
      loop.exec();
    *status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    const QByteArray out = reply->readAll();
    delete reply;
    return out;
  }

  static int freePort()
  {
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
  }

private:
  static bool fail(QString* error, const QString& why)
  {
    if (error)
      *error = why;
    return false;
  }

  QTemporaryDir m_tmp;
  QProcess m_process;
  int m_httpPort = 0, m_dicomPort = 0;
};
} // namespace panseg::test
