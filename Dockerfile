# The API as docker-compose.yml runs it. Node 20 is the oldest Node tenant-app supports.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000
EXPOSE 4000 9464
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
