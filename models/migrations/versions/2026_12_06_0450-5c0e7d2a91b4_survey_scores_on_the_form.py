"""survey scores on the form

六个部门的评分 move from one ``survey_score`` row per answer onto their form (``survey_response``), one column
per department: an import writes one row per form, reports sum the forms' columns. The answers are moved
over (and back on downgrade); ``SurveyScore`` becomes a read-only mapping of those columns.

Revision ID: 5c0e7d2a91b4
Revises: 058e5274c2d4
Create Date: 2026-12-06 04:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5c0e7d2a91b4'
down_revision: str | Sequence[str] | None = '058e5274c2d4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As models.surveys.SurveyTopic stands today (a migration must not follow later edits of the model).
TOPICS = ('service', 'engineering', 'security', 'environment', 'greening', 'developer')


def _column(topic: str) -> str:
    return f'{topic}_score'


def _checks(batch_op, add: bool) -> None:
    for topic in TOPICS:
        name = _column(topic)
        if add:
            batch_op.create_check_constraint(op.f(f'ck_survey_response_{name}_range'),
                                             f'{name} IS NULL OR ({name} >= 1 AND {name} <= 10)')
        else:
            batch_op.drop_constraint(op.f(f'ck_survey_response_{name}_range'), type_='check')


# On SQLite a change of checks rebuilds survey_response, and dropping the old table (foreign keys on) deletes
# what references it: so no rebuild happens while survey_score points at the forms — in both directions the
# answers are moved while the columns have no checks, and the checks change when survey_score is gone.
def upgrade() -> None:
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        for topic in TOPICS:
            batch_op.add_column(sa.Column(_column(topic), sa.Integer(), nullable=True))
    # each form's answers, one correlated read per department (survey_score is unique by form + department)
    op.execute(sa.text(
        'UPDATE survey_response SET ' + ', '.join(
            f"{_column(t)} = (SELECT s.score FROM survey_score s "
            f"WHERE s.response_id = survey_response.id AND s.topic = '{t}')"
            for t in TOPICS
        ) + ' WHERE EXISTS (SELECT 1 FROM survey_score s WHERE s.response_id = survey_response.id)'
    ))
    with op.batch_alter_table('survey_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_score_topic_score'))
        batch_op.drop_index(batch_op.f('ix_survey_score_response_id'))
    op.drop_table('survey_score')
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        _checks(batch_op, add=True)


def downgrade() -> None:
    # one row per given answer, in a table of its own until survey_response has lost its score columns
    answers = ' UNION ALL '.join(
        f"SELECT id AS response_id, {i} AS place, '{t}' AS topic, {_column(t)} AS score FROM survey_response "
        f"WHERE {_column(t)} IS NOT NULL"
        for i, t in enumerate(TOPICS)
    )
    op.execute(sa.text(f'CREATE TABLE survey_score_move AS {answers}'))
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        _checks(batch_op, add=False)
    with op.batch_alter_table('survey_response', schema=None) as batch_op:
        for topic in reversed(TOPICS):
            batch_op.drop_column(_column(topic))
    op.create_table('survey_score',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.Enum(*TOPICS, name='surveytopic', native_enum=False, length=19), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('score >= 1 AND score <= 10', name=op.f('ck_survey_score_score_range')),
    sa.ForeignKeyConstraint(['response_id'], ['survey_response.id'], name=op.f('fk_survey_score_response_id_survey_response'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_score')),
    sa.UniqueConstraint('response_id', 'topic', name=op.f('uq_survey_score_response_id_topic'))
    )
    with op.batch_alter_table('survey_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_score_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_score_topic_score'), ['topic', 'score'], unique=False)
    # each form's answers next to each other, in the departments' order
    op.execute(sa.text('INSERT INTO survey_score (response_id, topic, score) SELECT response_id, topic, score '
                       'FROM survey_score_move ORDER BY response_id, place'))
    op.drop_table('survey_score_move')
