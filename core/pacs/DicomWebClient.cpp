// DICOMweb client (PS3.18) in Qt Network: QIDO-RS, WADO-RS (series, streamed to disk through
// MultipartParser), STOW-RS. Blocking calls on a private event loop; see PacsClient.h.
#include "core/pacs/MultipartParser.h"
#include "core/pacs/PacsClient.h"

#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrlQuery>
#include <QUuid>

#include <cmath>
#include <memory>
#include <optional>

namespace panseg::pacs
{
namespace
{
std::string s(const QString& q)
{
  return q.toStdString();
}

/// The values of a DICOM JSON attribute joined with '\' (PN: the alphabetic group).
QString tagValue(const QJsonObject& o, const char* tag)
{
  const QJsonArray values = o.value(QLatin1String(tag)).toObject().value("Value").toArray();
  QStringList parts;
  for (const QJsonValue& v : values)
  {
    if (v.isObject())
      parts << v.toObject().value("Alphabetic").toString();
    else if (v.isString())
      parts << v.toString();
    else if (v.isDouble())
      parts << QString::number(v.toDouble(), 'g', 15);
  }
  return parts.join('\\');
}

int intValue(const QJsonObject& o, const char* tag)
{
  bool ok = false;
  const int v = tagValue(o, tag).section('\\', 0, 0).toInt(&ok);
  return ok ? v : -1;
}

class DicomWebClient final : public PacsClient
{
public:
  explicit DicomWebClient(PacsProfile p) : PacsClient(std::move(p))
  {
    m_base = m_profile.url;
    while (m_base.endsWith('/'))
      m_base.chop(1);
    if (m_profile.auth == AuthKind::Basic)
      m_authorization = "Basic " + (m_profile.username.toUtf8() + ":" + m_profile.readSecret()).toBase64();
    else if (m_profile.auth == AuthKind::Bearer)
      m_authorization = "Bearer " + m_profile.readSecret();
  }

  void echo() override
  {
    QUrl url(m_base + "/studies");
    url.setQuery("limit=1");
    const Result r = send("GET", url, "application/dicom+json", {}, {}, "verification");
    if (r.status != 200 && r.status != 204)
      failStatus(r, "GET", url, "verification");
  }

  std::vector<PacsRecord> find(const QueryFilter& f) override
  {
    QString path = m_base;
    if (f.level == Level::Series && !f.studyUid.isEmpty())
      path += "/studies/" + f.studyUid + "/series";
    else
      path += f.level == Level::Study ? "/studies" : "/series";
    QUrlQuery q;
    auto add = [&](const char* key, const QString& value) {
      if (!value.isEmpty())
        q.addQueryItem(key, value);
    };
    add("PatientName", f.patientName);
    add("PatientID", f.patientId);
    add("StudyDate", f.dateRange.isEmpty() ? QString() : normalizeDateRange(f.dateRange));
    add("AccessionNumber", f.accession);
    if (f.level == Level::Study)
    {
      add("ModalitiesInStudy", f.modality);
      add("StudyInstanceUID", f.studyUid);
      for (const char* tag : { "00081030", "00201208", "00080061", "00100010", "00100020", "00080020", "00080050" })
        q.addQueryItem("includefield", tag);
    }
    else
    {
      add("Modality", f.modality);
      add("SeriesInstanceUID", f.seriesUid);
      for (const char* tag : { "0008103E", "00201209", "00200011", "00100010", "00100020", "00080020", "00080050",
                               "0020000D", "00080060" })
        q.addQueryItem("includefield", tag);
    }
    if (f.limit > 0)
      q.addQueryItem("limit", QString::number(f.limit));
    if (f.offset > 0)
      q.addQueryItem("offset", QString::number(f.offset));
    QUrl url(path);
    url.setQuery(q);
    const Result r = send("GET", url, "application/dicom+json", {}, {}, "query");
    if (r.status == 204 || (r.status == 200 && r.body.trimmed().isEmpty()))
      return {};
    if (r.status != 200)
      failStatus(r, "GET", url, "query");
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(r.body, &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isArray())
      fail("PACS " + m_profile.name + " sent a query answer that is not a DICOM JSON array (" + pe.errorString() +
           ")");
    std::vector<PacsRecord> out;
    for (const QJsonValue& v : doc.array())
    {
      const QJsonObject o = v.toObject();
      PacsRecord rec;
      rec.level = f.level;
      rec.patientName = tagValue(o, "00100010");
      rec.patientId = tagValue(o, "00100020");
      rec.studyDate = tagValue(o, "00080020");
      rec.accession = tagValue(o, "00080050");
      rec.studyUid = tagValue(o, "0020000D");
      if (f.level == Level::Study)
      {
        rec.modality = tagValue(o, "00080061");
        rec.description = tagValue(o, "00081030");
        rec.instances = intValue(o, "00201208");
      }
      else
      {
        rec.seriesUid = tagValue(o, "0020000E");
        rec.modality = tagValue(o, "00080060");
        rec.description = tagValue(o, "0008103E");
        rec.instances = intValue(o, "00201209");
        rec.seriesNumber = intValue(o, "00200011");
        if (rec.studyUid.isEmpty())
          rec.studyUid = f.studyUid;
      }
      out.push_back(rec);
    }
    return out;
  }

  RetrieveResult retrieveSeries(const QString& studyUidIn, const QString& seriesUid, const QString& folder,
                                const ProgressFn& progress) override
  {
    QString studyUid = studyUidIn;
    int expected = -1;
    if (studyUid.isEmpty())
    {
      const PacsRecord rec = findSeries(*this, seriesUid);
      studyUid = rec.studyUid;
      expected = rec.instances;
    }
    if (!QFileInfo(folder).isDir())
      fail("cannot retrieve into " + folder + ": not a folder");
    const QUrl url(m_base + "/studies/" + studyUid + "/series/" + seriesUid);
    RetrieveResult result;
    TransferProgress tp;
    tp.expectedFiles = expected;
    std::unique_ptr<MultipartParser> parser;
    std::unique_ptr<QFile> file;
    QByteArray head; // the first 132 bytes of the current part
    QString partType;
    bool cancelled = false;

    auto sink = [&](QNetworkReply* reply, const QByteArray& contentType) -> bool {
      if (!parser)
      {
        parser = std::make_unique<MultipartParser>(MultipartParser::boundaryOf(contentType));
        parser->onPartBegin = [&](const MultipartParser::Headers& headers) {
          partType.clear();
          for (const auto& h : headers)
            if (h.first == "content-type")
              partType = QString::fromLatin1(h.second);
          if (!partType.isEmpty() && parseContentType(partType.toLatin1()).mediaType != "application/dicom")
            fail(QString("PACS %1 sent part %2 of series %3 as %4, not application/dicom")
                   .arg(m_profile.name)
                   .arg(tp.files + 1)
                   .arg(seriesUid, partType));
          const QString path = QDir(folder).filePath(QString("%1.dcm.part").arg(tp.files + 1, 6, 10, QChar('0')));
          file = std::make_unique<QFile>(path);
          if (!file->open(QIODevice::WriteOnly | QIODevice::Truncate))
            fail("cannot write " + path + ": " + file->errorString());
          head.clear();
        };
        parser->onPartData = [&](const char* data, qsizetype size) {
          if (head.size() < 132)
            head.append(data, std::min<qsizetype>(size, 132 - head.size()));
          if (file->write(data, size) != size)
            fail("cannot write " + file->fileName() + ": " + file->errorString() + " (disk full?)");
          tp.bytes += size;
        };
        parser->onPartEnd = [&]() {
          if (!file->flush())
            fail("cannot write " + file->fileName() + ": " + file->errorString() + " (disk full?)");
          file->close();
          if (head.size() < 132 || head.mid(128, 4) != "DICM")
            fail(QString("PACS %1 sent part %2 of series %3 that is not a DICOM file (%4 bytes, no DICM header)")
                   .arg(m_profile.name)
                   .arg(tp.files + 1)
                   .arg(seriesUid)
                   .arg(file->size()));
          QString final = file->fileName();
          final.chop(5); // ".part"
          QFile::remove(final);
          if (!file->rename(final))
            fail("cannot rename " + file->fileName() + " to " + final + ": " + file->errorString());
          result.files << QFileInfo(final).absoluteFilePath();
          file.reset();
          ++tp.files;
        };
      }
      const QByteArray chunk = reply->readAll();
      parser->feed(chunk);
      if (progress && !progress(tp))
      {
        cancelled = true;
        return false;
      }
      return true;
    };
    auto dropPartial = [&]() {
      if (file)
      {
        file->close();
        file->remove();
        file.reset();
      }
    };
    Result r;
    try
    {
      // transfer-syntax=* asks for the instances as stored (PanSeg decodes JPEG 2000, JPEG-LS, RLE
      // ...): a server need not transcode, and one that cannot (Orthanc without a JPEG 2000 codec
      // answers 500 otherwise) still delivers. A server that refuses the parameter gets the plain
      // request.
      r = send("GET", url, "multipart/related; type=\"application/dicom\"; transfer-syntax=*", {}, sink, "retrieve");
      if (r.status == 400 || r.status == 406 || r.status == 415)
        r = send("GET", url, "multipart/related; type=\"application/dicom\"", {}, sink, "retrieve");
    }
    catch (...)
    {
      dropPartial(); // never a half-written instance
      throw;
    }
    dropPartial();
    if (cancelled)
      throw Cancelled();
    if (r.status == 404 || r.status == 204)
      fail("series " + seriesUid + " not found on PACS " + m_profile.name + QString(" (HTTP %1)").arg(r.status));
    if (r.status != 200)
      failStatus(r, "GET", url, "retrieve");
    if (!parser)
      fail("PACS " + m_profile.name + " sent an empty answer for series " + seriesUid);
    parser->finish();
    if (tp.files == 0)
      fail("series " + seriesUid + " not found on PACS " + m_profile.name + " (no instances)");
    if (expected > 0 && tp.files != expected)
      fail(QString("PACS %1 sent %2 of the %3 instances of series %4").arg(m_profile.name).arg(tp.files).arg(expected).arg(
          seriesUid));
    result.bytes = tp.bytes;
    return result;
  }

  void store(const QStringList& files, const ProgressFn& progress) override
  {
    const QByteArray boundary = "panseg-" + QUuid::createUuid().toByteArray(QUuid::WithoutBraces);
    QByteArray body;
    for (const QString& path : files)
    {
      QFile f(path);
      if (!f.open(QIODevice::ReadOnly))
        fail("cannot read " + path + ": " + f.errorString());
      body += "--" + boundary + "\r\nContent-Type: application/dicom\r\n\r\n";
      body += f.readAll();
      body += "\r\n";
    }
    body += "--" + boundary + "--\r\n";
    const QUrl url(m_base + "/studies");
    const Result r = send("POST", url, "application/dicom+json",
                          std::make_pair(QByteArray("multipart/related; type=\"application/dicom\"; boundary=") + boundary,
                                         body),
                          {}, "store");
    if (r.status != 200 && r.status != 202 && r.status != 409)
      failStatus(r, "POST", url, "store");
    const QJsonObject o = QJsonDocument::fromJson(r.body).object();
    const QJsonArray failed = o.value("00081198").toObject().value("Value").toArray();
    if (r.status != 200 || !failed.isEmpty())
    {
      QString reason;
      if (!failed.isEmpty())
      {
        const int code = intValue(failed.first().toObject(), "00081197");
        if (code >= 0)
          reason = QString(", failure reason 0x%1").arg(code, 4, 16, QChar('0'));
      }
      fail(QString("PACS %1 refused %2 of %3 instance(s) (HTTP %4%5)")
             .arg(m_profile.name)
             .arg(failed.isEmpty() ? files.size() : failed.size())
             .arg(files.size())
             .arg(r.status)
             .arg(reason));
    }
    if (progress)
      progress(TransferProgress{ int(files.size()), int(files.size()), body.size() });
  }

private:
  struct Result
  {
    int status = 0;
    QByteArray body;
    QByteArray contentType;
  };
  using Sink = std::function<bool(QNetworkReply*, const QByteArray& contentType)>;

  [[noreturn]] void fail(const QString& message) const { throw Error(s(message)); }

  [[noreturn]] void failStatus(const Result& r, const char* method, const QUrl& url, const char* what) const
  {
    const QString name = m_profile.name;
    if (r.status == 401)
      fail("PACS " + name + " refused the credentials (HTTP 401 Unauthorized)" +
           (m_profile.auth == AuthKind::None ? QString(": the server needs authentication; set --auth basic|bearer")
                                             : ": check the user name and the secret in " + m_profile.secretFile));
    if (r.status == 403)
      fail("PACS " + name + " refused access (HTTP 403 Forbidden) to " + url.path());
    if (r.status == 404)
      fail("not found on PACS " + name + " (HTTP 404): " + url.path());
    QString detail = QString::fromUtf8(r.body.left(200)).simplified();
    fail(QString("PACS %1 answered HTTP %2 to the %3 (%4 %5)%6")
           .arg(name)
           .arg(r.status)
           .arg(what, method, url.toString(QUrl::RemoveUserInfo))
           .arg(detail.isEmpty() ? QString() : ": " + detail));
  }

  Result send(const QByteArray& method, const QUrl& url, const QByteArray& accept,
              const std::optional<std::pair<QByteArray, QByteArray>>& body, const Sink& sink, const char* what)
  {
    QNetworkRequest req(url);
    req.setRawHeader("Accept", accept);
    if (!m_authorization.isEmpty())
      req.setRawHeader("Authorization", m_authorization);
    req.setTransferTimeout(m_profile.timeoutMs);
    req.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    QNetworkReply* reply = nullptr;
    if (body)
    {
      req.setHeader(QNetworkRequest::ContentTypeHeader, body->first);
      reply = m_nam.sendCustomRequest(req, method, body->second);
    }
    else
      reply = m_nam.sendCustomRequest(req, method);
    std::unique_ptr<QNetworkReply> owner(reply);
    Result r;
    QString error;
    bool cancelled = false;
    QEventLoop loop;
    QObject::connect(reply, &QNetworkReply::readyRead, &loop, [&]() {
      if (!error.isEmpty() || cancelled)
        return;
      if (r.status == 0)
      {
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
      }
      if (!sink || r.status != 200)
      {
        r.body += reply->readAll();
        return;
      }
      try
      {
        if (!sink(reply, r.contentType))
        {
          cancelled = true;
          reply->abort();
        }
      }
      catch (const std::exception& e)
      {
        error = QString::fromStdString(e.what());
        reply->abort();
      }
    });
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    if (!reply->isFinished())
      loop.exec();
    if (!error.isEmpty())
      fail(error);
    if (cancelled)
      throw Cancelled();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (r.status == 0)
    {
      r.status = status;
      r.contentType = reply->header(QNetworkRequest::ContentTypeHeader).toByteArray();
    }
    // Whatever arrived with `finished` but after the last readyRead.
    if (reply->bytesAvailable() > 0)
    {
      if (sink && r.status == 200)
      {
        try
        {
          if (!sink(reply, r.contentType))
            throw Cancelled();
        }
        catch (const Cancelled&)
        {
          throw;
        }
        catch (const std::exception& e)
        {
          fail(QString::fromStdString(e.what()));
        }
      }
      else
        r.body += reply->readAll();
    }
    const QNetworkReply::NetworkError ne = reply->error();
    if (ne != QNetworkReply::NoError && status == 0)
    {
      const QString where = url.host() + ":" + QString::number(url.port(url.scheme() == "https" ? 443 : 80));
      switch (ne)
      {
      case QNetworkReply::ConnectionRefusedError:
        fail("PACS " + m_profile.name + ": connection refused at " + where + " (is the server running?)");
      case QNetworkReply::HostNotFoundError:
        fail("PACS " + m_profile.name + ": host '" + url.host() + "' not found");
      case QNetworkReply::TimeoutError:
      case QNetworkReply::OperationCanceledError:
        fail(QString("PACS %1: no answer from %2 within %3 s (the %4 timed out)")
               .arg(m_profile.name, where)
               .arg(m_profile.timeoutMs / 1000.0)
               .arg(what));
      default:
        fail("PACS " + m_profile.name + ": " + what + " failed: " + reply->errorString());
      }
    }
    if (ne != QNetworkReply::NoError && r.status == 200)
    {
      if (ne == QNetworkReply::OperationCanceledError || ne == QNetworkReply::TimeoutError)
        fail(QString("PACS %1: the %2 stalled for %3 s and was stopped (truncated response)")
               .arg(m_profile.name, what)
               .arg(m_profile.timeoutMs / 1000.0));
      fail("PACS " + m_profile.name + ": the " + what + " response was cut off: " + reply->errorString());
    }
    return r;
  }

  QString m_base;
  QByteArray m_authorization;
  QNetworkAccessManager m_nam;
};
} // namespace

std::unique_ptr<PacsClient> makeDicomWebClient(const PacsProfile& profile)
{
  return std::make_unique<DicomWebClient>(profile);
}
} // namespace panseg::pacs
