// The streaming multipart/related parser and the WADO-RS retrieve against a small loopback HTTP
// server that sends what real servers send (quoted / unquoted boundary and type, per-part headers
// or none, LF line ends, preamble and epilogue, no Content-Length, chunked transfer, one byte at a
// time) and broken answers (truncated, cut off, not DICOM, wrong media type, a stalled server).
#include "core/Error.h"
#include "core/pacs/MultipartParser.h"
#include "core/pacs/PacsClient.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace panseg;
using namespace panseg::pacs;

namespace
{
/// A fake DICOM Part 10 object: preamble, "DICM", then bytes that contain boundary-like text.
QByteArray fakeDicom(int seed, int size)
{
  QByteArray b(128, '\0');
  b += "DICM";
  QRandomGenerator rng{ quint32(seed) };
  while (b.size() < size)
  {
    b += char(rng.bounded(256));
    if (b.size() % 997 == 0)
      b += "\r\n--not-the-boundary\r\n\n--";
  }
  return b;
}

/// Serves one canned HTTP answer per connection (the same bytes each time), optionally in pieces
/// with pauses, optionally keeping the connection open without finishing (a stalled server).
class CannedServer : public QObject
{
public:
  QByteArray answer;
  int pieceSize = 0;  // 0 = all at once
  bool hangAfter = false; // do not close after sending
  QByteArray lastRequest;

  CannedServer()
  {
    m_server.listen(QHostAddress::LocalHost, 0);
    QObject::connect(&m_server, &QTcpServer::newConnection, this, [this]() {
      while (QTcpSocket* s = m_server.nextPendingConnection())
      {
        s->setParent(this);
        QObject::connect(s, &QTcpSocket::readyRead, this, [this, s]() {
          lastRequest += s->readAll();
          if (!lastRequest.contains("\r\n\r\n") || s->property("answered").toBool())
            return;
          s->setProperty("answered", true);
          send(s, 0);
        });
      }
    });
  }
  QString url() const { return QString("http://127.0.0.1:%1/dicom-web").arg(m_server.serverPort()); }

private:
  void send(QTcpSocket* s, qsizetype from)
  {
    const qsizetype n = pieceSize > 0 ? pieceSize : answer.size();
    s->write(answer.mid(from, n));
    if (from + n < answer.size())
    {
      QTimer::singleShot(0, s, [this, s, from, n]() { send(s, from + n); });
      return;
    }
    s->flush();
    if (!hangAfter)
      s->disconnectFromHost();
  }
  QTcpServer m_server;
};

QByteArray chunked(const QByteArray& body, int chunk)
{
  QByteArray out;
  for (qsizetype i = 0; i < body.size(); i += chunk)
  {
    const QByteArray piece = body.mid(i, chunk);
    out += QByteArray::number(piece.size(), 16) + "\r\n" + piece + "\r\n";
  }
  out += "0\r\n\r\n";
  return out;
}
} // namespace

class TestPacsMultipart : public QObject
{
  Q_OBJECT

  QList<QByteArray> m_parts{ fakeDicom(1, 5000), fakeDicom(2, 70000), fakeDicom(3, 300) };

  PacsProfile profileFor(const CannedServer& server, int timeoutMs = 3000)
  {
    PacsProfile p;
    p.name = "canned";
    p.url = server.url();
    p.timeoutMs = timeoutMs;
    return p;
  }

  /// Retrieves from the server into a fresh folder and returns the files' contents in order.
  QList<QByteArray> retrieve(CannedServer& server, QString* error, int timeoutMs = 3000)
  {
    QTemporaryDir dir;
    auto client = makeClient(profileFor(server, timeoutMs));
    QList<QByteArray> out;
    try
    {
      const RetrieveResult r = client->retrieveSeries("1.2.3", "1.2.3.4", dir.path());
      for (const QString& f : r.files)
      {
        QFile file(f);
        file.open(QIODevice::ReadOnly);
        out << file.readAll();
      }
    }
    catch (const Error& e)
    {
      *error = QString::fromStdString(e.what());
    }
    // Never a half-written part left behind.
    const QStringList leftovers = QDir(dir.path()).entryList({ "*.part" }, QDir::Files);
    if (!leftovers.isEmpty())
      *error += " [leftover " + leftovers.join(',') + "]";
    return out;
  }

  QByteArray body(const QByteArray& boundary, bool partHeaders, const QByteArray& eol = "\r\n",
                   const QByteArray& preamble = {}, const QByteArray& epilogue = {}, int parts = -1)
  {
    QByteArray b = preamble;
    const int n = parts < 0 ? int(m_parts.size()) : parts;
    for (int i = 0; i < n; ++i)
    {
      b += "--" + boundary + eol;
      if (partHeaders)
        b += "Content-Type: application/dicom" + eol + "Content-Length: " + QByteArray::number(m_parts[i].size()) + eol +
             "Content-Location: /studies/1.2.3/series/1.2.3.4/instances/" + QByteArray::number(i) + eol;
      b += eol + m_parts[i] + eol;
    }
    b += "--" + boundary + "--" + eol + epilogue;
    return b;
  }

private slots:
  void parsesContentTypes()
  {
    QCOMPARE(MultipartParser::boundaryOf("multipart/related; type=\"application/dicom\"; boundary=\"a b;c\""),
             QByteArray("a b;c"));
    QCOMPARE(MultipartParser::boundaryOf("Multipart/Related;boundary=xyz;type=application/dicom"), QByteArray("xyz"));
    QCOMPARE(parseContentType("multipart/related; type=application/dicom; boundary=q").param("type"),
             QByteArray("application/dicom"));
    QVERIFY_THROWS_EXCEPTION(Error, MultipartParser::boundaryOf("application/json"));
    QVERIFY_THROWS_EXCEPTION(Error, MultipartParser::boundaryOf("multipart/related; type=application/dicom"));
  }

  void parserByteByByte()
  {
    const QByteArray b = body("B0UND", true, "\n", "preamble text\r\n", "epilogue");
    MultipartParser p("B0UND");
    QList<QByteArray> got;
    QList<MultipartParser::Headers> headers;
    p.onPartBegin = [&](const MultipartParser::Headers& h) {
      headers << h;
      got << QByteArray();
    };
    p.onPartData = [&](const char* d, qsizetype n) { got.last().append(d, n); };
    for (char c : b)
      p.feed(&c, 1);
    p.finish();
    QCOMPARE(got.size(), m_parts.size());
    for (int i = 0; i < got.size(); ++i)
      QCOMPARE(got[i], m_parts[i]);
    QCOMPARE(headers[1].value(0).first, QByteArray("content-type"));
    QCOMPARE(headers[1].value(1).second, QByteArray::number(m_parts[1].size()));
  }

  void parserIsLinearInOneBigChunk()
  {
    // A loopback server outruns the client: many parts arrive in one chunk. Searching the whole
    // rest of the chunk for each part's header end was quadratic (a 300-slice series took 36 s).
    // Pixel data without an empty line ("\n\n") in it, as in most CT slices: looking for the end
    // of the next part's headers must not scan it.
    QByteArray part = fakeDicom(7, 100000);
    part.replace("\n\n", "\n.");
    QByteArray b;
    const int parts = 800;
    for (int i = 0; i < parts; ++i)
      b += "--big\r\nContent-Type: application/dicom\r\n\r\n" + part + "\r\n";
    b += "--big--\r\n";
    MultipartParser p("big");
    qint64 bytes = 0;
    int ended = 0;
    p.onPartData = [&](const char*, qsizetype n) { bytes += n; };
    p.onPartEnd = [&]() { ++ended; };
    QElapsedTimer t;
    t.start();
    p.feed(b);
    p.finish();
    QCOMPARE(ended, parts);
    QCOMPARE(bytes, qint64(parts) * part.size());
    QVERIFY2(t.elapsed() < 5000, qPrintable(QString("%1 ms for %2 MB").arg(t.elapsed()).arg(b.size() / 1e6)));
  }

  void parserRejectsTruncated()
  {
    QByteArray b = body("zz", false);
    b.chop(10); // the closing delimiter and some data of the last part
    MultipartParser p("zz");
    int ended = 0;
    p.onPartEnd = [&]() { ++ended; };
    p.feed(b);
    try
    {
      p.finish();
      QFAIL("a truncated body was accepted");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("truncated multipart response"), e.what());
      QVERIFY2(QString(e.what()).contains("2 complete part(s), part 3 cut off"), e.what());
    }
    QCOMPARE(ended, 2);
    MultipartParser q("nowhere");
    q.feed(QByteArray("no boundary here"));
    QVERIFY_THROWS_EXCEPTION(Error, q.finish());
  }

  void retrievesChunkedUnquotedWithPartHeaders()
  {
    CannedServer server;
    const QByteArray b = body("unquoted-boundary_1", true);
    server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=application/dicom; boundary=unquoted-boundary_1\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                    chunked(b, 4093);
    server.pieceSize = 1500;
    QString error;
    const QList<QByteArray> got = retrieve(server, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(got, m_parts);
    QVERIFY(server.lastRequest.startsWith("GET /dicom-web/studies/1.2.3/series/1.2.3.4 HTTP/1.1"));
    QVERIFY2(server.lastRequest.contains("Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=*\r\n"),
             server.lastRequest.constData());
  }

  void retrievesQuotedNoHeadersNoLengthLfOnly()
  {
    CannedServer server;
    const QByteArray b = body("quoted boundary", false, "\n", "This is a preamble.\n", "and an epilogue\n");
    server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=\"quoted boundary\"; type=\"application/dicom\"\r\n"
                    "Connection: close\r\n\r\n" +
                    b;
    server.pieceSize = 1;
    QString error;
    const QList<QByteArray> got = retrieve(server, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(got, m_parts);
  }

  void rejectsTruncatedWithoutLength()
  {
    CannedServer server;
    QByteArray b = body("t1", true);
    b.chop(m_parts.last().size() / 2 + 8);
    server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=t1\r\n"
                    "Connection: close\r\n\r\n" +
                    b;
    QString error;
    retrieve(server, &error);
    QVERIFY2(error.startsWith("truncated multipart response"), qPrintable(error));
    QVERIFY2(!error.contains("leftover"), qPrintable(error));
  }

  void rejectsCutOffContentLength()
  {
    CannedServer server;
    const QByteArray b = body("t2", true);
    server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=t2\r\n"
                    "Content-Length: " +
                    QByteArray::number(b.size()) + "\r\nConnection: close\r\n\r\n" + b.left(b.size() - 3000);
    QString error;
    retrieve(server, &error);
    QVERIFY2(!error.isEmpty(), "a response shorter than its Content-Length was accepted");
    QVERIFY2(error.contains("cut off") || error.contains("truncated"), qPrintable(error));
    QVERIFY2(!error.contains("leftover"), qPrintable(error));
  }

  void rejectsTruncatedChunked()
  {
    CannedServer server;
    QByteArray c = chunked(body("t3", true), 8192);
    c.chop(5000);
    server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=t3\r\n"
                    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                    c;
    QString error;
    retrieve(server, &error);
    QVERIFY2(error.contains("cut off") || error.contains("truncated"), qPrintable(error));
  }

  void rejectsNonDicomPartAndWrongTypes()
  {
    {
      CannedServer server;
      QByteArray b = "--x\r\nContent-Type: application/dicom\r\n\r\nthis is not DICOM\r\n--x--\r\n";
      server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=x\r\n"
                      "Content-Length: " +
                      QByteArray::number(b.size()) + "\r\n\r\n" + b;
      QString error;
      retrieve(server, &error);
      QVERIFY2(error.contains("not a DICOM file"), qPrintable(error));
    }
    {
      CannedServer server;
      QByteArray b = "--x\r\nContent-Type: application/pdf\r\n\r\n" + m_parts[0] + "\r\n--x--\r\n";
      server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=x\r\nContent-Length: " +
                      QByteArray::number(b.size()) + "\r\n\r\n" + b;
      QString error;
      retrieve(server, &error);
      QVERIFY2(error.contains("application/pdf, not application/dicom"), qPrintable(error));
    }
    {
      CannedServer server;
      server.answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]";
      QString error;
      retrieve(server, &error);
      QVERIFY2(error.contains("expected multipart/related"), qPrintable(error));
    }
    {
      CannedServer server;
      server.answer = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
      QString error;
      retrieve(server, &error);
      QVERIFY2(error.contains("refused the credentials (HTTP 401"), qPrintable(error));
    }
    {
      CannedServer server;
      server.answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
      QString error;
      retrieve(server, &error);
      QVERIFY2(error.contains("not found on PACS canned"), qPrintable(error));
    }
  }

  void stalledServerTimesOut()
  {
    CannedServer server;
    server.answer = "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; boundary=s\r\n\r\n"
                    "--s\r\nContent-Type: application/dicom\r\n\r\n" +
                    m_parts[0].left(1000);
    server.hangAfter = true;
    QElapsedTimer t;
    t.start();
    QString error;
    retrieve(server, &error, 1000);
    QVERIFY2(t.elapsed() < 5000, qPrintable(QString("took %1 ms").arg(t.elapsed())));
    QVERIFY2(error.contains("stalled") || error.contains("no answer"), qPrintable(error));
    QVERIFY2(!error.contains("leftover"), qPrintable(error));
  }

  void silentServerTimesOut()
  {
    // Accepts the connection and never answers: an error within the timeout.
    QTcpServer silent;
    silent.listen(QHostAddress::LocalHost, 0);
    PacsProfile p;
    p.name = "silent";
    p.url = QString("http://127.0.0.1:%1/dicom-web").arg(silent.serverPort());
    p.timeoutMs = 1000;
    QElapsedTimer t;
    t.start();
    try
    {
      makeClient(p)->echo();
      QFAIL("a silent server answered");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("no answer from 127.0.0.1"), e.what());
    }
    QVERIFY2(t.elapsed() < 4000, qPrintable(QString("took %1 ms").arg(t.elapsed())));
  }

  void sendsTheCredentials()
  {
    QTemporaryDir dir;
    const QString token = dir.filePath("token");
    {
      QFile f(token);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("tok-123.abc\n");
    }
    CannedServer server;
    server.answer = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    PacsProfile p = profileFor(server);
    p.auth = AuthKind::Bearer;
    p.secretFile = token;
    makeClient(p)->echo();
    QVERIFY2(server.lastRequest.contains("Authorization: Bearer tok-123.abc\r\n"), server.lastRequest.constData());
    QVERIFY2(server.lastRequest.startsWith("GET /dicom-web/studies?limit=1 "), server.lastRequest.constData());

    CannedServer basic;
    basic.answer = server.answer;
    p = profileFor(basic);
    p.auth = AuthKind::Basic;
    p.username = "alice";
    p.secretFile = token;
    makeClient(p)->echo();
    QVERIFY2(basic.lastRequest.contains("Authorization: Basic " + QByteArray("alice:tok-123.abc").toBase64() + "\r\n"),
             basic.lastRequest.constData());

    // A missing secret file: one line naming it, before anything is sent.
    p.secretFile = dir.filePath("absent");
    try
    {
      makeClient(p);
      QFAIL("a missing secret file was accepted");
    }
    catch (const Error& e)
    {
      QVERIFY2(QString(e.what()).contains("cannot read the secret file " + p.secretFile), e.what());
    }
  }

  void dateRanges()
  {
    QCOMPARE(normalizeDateRange("2024-01-01-2024-12-31"), QString("20240101-20241231"));
    QCOMPARE(normalizeDateRange("20240101-20241231"), QString("20240101-20241231"));
    QCOMPARE(normalizeDateRange("2024-03-05"), QString("20240305"));
    QCOMPARE(normalizeDateRange("20240101-"), QString("20240101-"));
    QCOMPARE(normalizeDateRange("-20241231"), QString("-20241231"));
    QVERIFY_THROWS_EXCEPTION(Error, normalizeDateRange("yesterday"));
    QVERIFY_THROWS_EXCEPTION(Error, normalizeDateRange("20241231-20240101"));
  }
};

QTEST_GUILESS_MAIN(TestPacsMultipart)
#include "tst_pacs_multipart.moc"
