#include "PacsClient.h"

#include <QRegularExpression>

namespace panseg::pacs
{
QString normalizeDateRange(const QString& text)
{
  const QString t = text.trimmed();
  static const QRegularExpression single("^(\\d{4})-?(\\d{2})-?(\\d{2})$");
  static const QRegularExpression range("^(?:(\\d{4})-?(\\d{2})-?(\\d{2}))?-(?:(\\d{4})-?(\\d{2})-?(\\d{2}))?$");
  QRegularExpressionMatch m = single.match(t);
  if (m.hasMatch())
    return m.captured(1) + m.captured(2) + m.captured(3);
  m = range.match(t);
  if (m.hasMatch() && t != "-")
  {
    const QString from = m.captured(1) + m.captured(2) + m.captured(3);
    const QString to = m.captured(4) + m.captured(5) + m.captured(6);
    if (!from.isEmpty() && !to.isEmpty() && from > to)
      throw Error("--date " + t.toStdString() + ": the start is after the end");
    return from + "-" + to;
  }
  throw Error("--date '" + t.toStdString() +
              "': expected FROM-TO as YYYYMMDD-YYYYMMDD (or YYYY-MM-DD-YYYY-MM-DD), one date, FROM- or -TO");
}

std::unique_ptr<PacsClient> makeClient(const PacsProfile& profile)
{
  profile.validate();
  return profile.protocol == Protocol::Dimse ? makeDimseClient(profile) : makeDicomWebClient(profile);
}

PacsRecord findSeries(PacsClient& client, const QString& seriesUid)
{
  QueryFilter f;
  f.level = Level::Series;
  f.seriesUid = seriesUid;
  const std::vector<PacsRecord> found = client.find(f);
  for (const PacsRecord& r : found)
    if (r.seriesUid == seriesUid)
      return r;
  throw Error("series " + seriesUid.toStdString() + " not found on PACS " + client.profile().name.toStdString());
}
} // namespace panseg::pacs
