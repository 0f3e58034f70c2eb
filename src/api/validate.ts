import type Joi from 'joi';
import { ApiError } from './http-errors.js';

/** validateBody checks a request body against a joi schema and answers 400 with every problem. */
export function validateBody<T>(schema: Joi.Schema<T>, body: unknown): T {
  const { value, error } = schema.validate(body ?? {}, { abortEarly: false, convert: false });
  if (error) throw new ApiError(400, 'invalid_request', error.details.map((d) => d.message).join('; '));
  return value;
}
