# Sealkeep image: the key-management service and the TPM emulator (sealkeep-tpm) built once;
# docker-compose.yml runs each as its own container from this image.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.base.json tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY migrations ./migrations
COPY packages ./packages
COPY services ./services
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production SEALKEEP_DATA_DIR=/var/lib/sealkeep
COPY --from=build /app /app
RUN mkdir -p /var/lib/sealkeep /var/lib/sealkeep-tpm && chown -R node:node /var/lib/sealkeep /var/lib/sealkeep-tpm
USER node
EXPOSE 7410 7411 7412
CMD ["node", "services/kms/dist/main.js"]
