# The Airflow image every Sinfonía service runs (api-server, scheduler, dag-processor, triggerer,
# Celery workers, init): Airflow's own image plus the pinned requirements (every transitive version
# held by requirements.lock, used as constraints), this package and the dbt manifest (the weekly DAG
# checks the warehouse against it).
FROM apache/airflow:3.3.2-python3.11

ENV SINFONIA_HOME=/opt/airflow/project \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DO_NOT_TRACK=1

USER airflow
COPY --chown=airflow:root requirements.txt requirements.lock ${SINFONIA_HOME}/
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r ${SINFONIA_HOME}/requirements.txt \
        -c ${SINFONIA_HOME}/requirements.lock

COPY --chown=airflow:root . ${SINFONIA_HOME}
RUN pip install --no-cache-dir --no-deps -e ${SINFONIA_HOME} \
    && python -m compileall -q ${SINFONIA_HOME}/include ${SINFONIA_HOME}/dags \
    && python -c "from sinfonia import dbt; dbt.ensure_manifest()"

WORKDIR ${SINFONIA_HOME}
