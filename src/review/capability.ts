import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { registerReviewRoutes } from './review.routes.js';
import { ReviewService, type ReviewOptions } from './review.service.js';

export const capability = defineCapability({
  name: 'review',
  needs: [audit],
  build: ({ db, audit, logger }, options?: ReviewOptions) => new ReviewService(db, audit, { onError: (err, what) => logger.warn({ err }, what), ...options }),
  routes: (app, review) => registerReviewRoutes(app, review),
  jobs: (review, { logger }) => [
    {
      queue: 'review-escalation',
      work: async () => {
        const moved = await review.escalate();
        if (moved > 0) logger.info({ moved }, 'review tasks escalated');
      },
      schedule: { cron: '* * * * *', payload: { reason: 'schedule' } },
    },
  ],
});
