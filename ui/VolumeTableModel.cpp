#include "ui/VolumeTableModel.h"
#include "database/QtText.h"

#include <cmath>

namespace panseg::ui
{
using namespace panseg::db;

namespace
{
QString patientOf(const std::string& id, const std::string& name) { return qs(id.empty() ? name : id); }
} // namespace

void VolumeTableModel::setTable(const VolumeTable& table)
{
  beginResetModel();
  m_table = table;
  endResetModel();
}

int VolumeTableModel::rowCount(const QModelIndex& parent) const
{
  return parent.isValid() ? 0 : int(m_table.rows.size());
}

int VolumeTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant VolumeTableModel::data(const QModelIndex& index, int role) const
{
  if (!index.isValid() || index.row() >= int(m_table.rows.size()))
    return {};
  const VolumeRow& r = m_table.rows[size_t(index.row())];
  const bool raw = role == Qt::UserRole;
  if (role == Qt::TextAlignmentRole)
  {
    const int c = index.column();
    return int((c == Series || c == Mask || c == VolumeMl ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter);
  }
  if (role == Qt::ToolTipRole)
    return QString("%1 — %2\nmask version %3, created %4%5")
      .arg(qs(r.patientName), qs(r.seriesDescription))
      .arg(r.maskVersionId)
      .arg(qs(r.createdAt), r.approvedAt.empty() ? QString() : "\napproved " + qs(r.approvedAt));
  if (role != Qt::DisplayRole && !raw)
    return {};
  switch (index.column())
  {
  case Patient:
    return patientOf(r.patientId, r.patientName);
  case StudyDate:
    return qs(r.studyDate);
  case Series:
    return raw ? QVariant(qlonglong(r.seriesId)) : QVariant(QString::number(r.seriesId));
  case Modality:
    return qs(to_string(r.modality));
  case Center:
    return qs(r.center);
  case Spacing:
    return QString("%1 × %2 × %3")
      .arg(r.spacingMm[0], 0, 'g', 4)
      .arg(r.spacingMm[1], 0, 'g', 4)
      .arg(r.spacingMm[2], 0, 'g', 4);
  case Mask:
    return raw ? QVariant(qlonglong(r.maskVersionId))
               : QVariant(QString::number(r.maskVersionId) + (r.approvedMask ? " ✓" : ""));
  case Source:
    return qs(r.sourceName);
  case State:
    return qs(to_string(r.state));
  case ApprovedBy:
    return qs(r.approvedBy);
  case VolumeMl:
    return raw ? QVariant(r.volumeMl) : QVariant(QString::number(r.volumeMl, 'f', 2));
  default:
    return {};
  }
}

QVariant VolumeTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return {};
  static const char* names[] = { "Patient", "Study date", "Series", "Modality", "Center", "Spacing (mm)", "Mask",
                                 "Source", "State", "Approved by", "Volume (mL)" };
  return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

void FollowUpTableModel::setTable(const VolumeTable& table)
{
  beginResetModel();
  m_rows = table.followUp;
  endResetModel();
}

int FollowUpTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(m_rows.size()); }

int FollowUpTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant FollowUpTableModel::data(const QModelIndex& index, int role) const
{
  if (!index.isValid() || index.row() >= int(m_rows.size()))
    return {};
  const FollowUpRow& f = m_rows[size_t(index.row())];
  if (role == Qt::TextAlignmentRole)
    return int((index.column() >= Days ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter);
  const bool raw = role == Qt::UserRole;
  if (role != Qt::DisplayRole && !raw)
    return {};
  auto number = [raw](double v, int decimals) {
    if (!std::isfinite(v))
      return raw ? QVariant() : QVariant(QString("–"));
    return raw ? QVariant(v) : QVariant(QString::number(v, 'f', decimals));
  };
  switch (index.column())
  {
  case Patient:
    return patientOf(f.patientId, f.patientName);
  case Group:
    return qs(f.modalityGroup);
  case FromDate:
    return qs(f.fromDate);
  case ToDate:
    return qs(f.toDate);
  case Days:
    return raw ? QVariant(f.days) : QVariant(QString::number(f.days));
  case FromMl:
    return number(f.fromMl, 2);
  case ToMl:
    return number(f.toMl, 2);
  case ChangeMl:
    return number(f.deltaMl, 2);
  case ChangePercent:
    return number(f.deltaPercent, 1);
  default:
    return {};
  }
}

QVariant FollowUpTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
    return {};
  static const char* names[] = { "Patient", "Modality", "From", "To", "Days", "From (mL)", "To (mL)", "Change (mL)",
                                 "Change (%)" };
  return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}
} // namespace panseg::ui
